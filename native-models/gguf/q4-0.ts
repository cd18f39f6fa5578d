import { float32ToFloat16Bits } from "./float16.ts";

/** Values per Q4_0 block; each block is an F16 scale followed by 16 bytes of 4-bit values (18 bytes). */
export const q4_0BlockSize = 32;
const blockBytes = 18;
const f = Math.fround;

/**
 * Quantizes to ggml's Q4_0 exactly as `quantize_row_q4_0_ref` (ggml-quants.c) does, in float32
 * arithmetic: per block of 32, d = (the value of largest magnitude) / −8, q = min(15, trunc(x/d + 8.5)),
 * value j in the low nibble of byte j and value j + 16 in its high nibble. Following the reference
 * step for step (rather than a "nicer" rounding) keeps our files the ones llama.cpp would write.
 */
export function quantizeQ4_0(values: Float32Array): Uint8Array {
    if (values.length % q4_0BlockSize !== 0) throw new RangeError(`Q4_0 needs a multiple of ${q4_0BlockSize} values, got ${values.length}`);
    const blocks = values.length / q4_0BlockSize;
    const out = new Uint8Array(blocks * blockBytes);
    const view = new DataView(out.buffer);
    for (let b = 0; b < blocks; b++) {
        const base = b * q4_0BlockSize;
        let amax = 0;
        let max = 0;
        for (let i = 0; i < q4_0BlockSize; i++) {
            const v = values[base + i]!;
            if (amax < Math.abs(v)) {
                amax = Math.abs(v);
                max = v;
            }
        }
        const d = f(max / -8);
        const id = d !== 0 ? f(1 / d) : 0;
        view.setUint16(b * blockBytes, float32ToFloat16Bits(d), true);
        for (let j = 0; j < q4_0BlockSize / 2; j++) {
            const x0 = f(values[base + j]! * id);
            const x1 = f(values[base + 16 + j]! * id);
            const q0 = Math.min(15, Math.trunc(f(x0 + 8.5)));
            const q1 = Math.min(15, Math.trunc(f(x1 + 8.5)));
            out[b * blockBytes + 2 + j] = q0 | (q1 << 4);
        }
    }
    return out;
}
