import { float32ToFloat16Bits } from "./float16.ts";

/** Values per Q5_0 block: an F16 scale, 4 bytes of fifth bits, 16 bytes of low nibbles (22 bytes). */
export const q5_0BlockSize = 32;
const blockBytes = 22;
const f = Math.fround;

/**
 * Quantizes to ggml's Q5_0 exactly as `quantize_row_q5_0_ref` does (float32 arithmetic): d = (the
 * value of largest magnitude) / −16, q = min(31, trunc(x/d + 16.5)). Q5_0 is what llama.cpp's quantizer
 * stores a Q4_K tensor as when its rows are not a multiple of 256, so we do the same.
 */
export function quantizeQ5_0(values: Float32Array): Uint8Array {
    if (values.length % q5_0BlockSize !== 0) throw new RangeError(`Q5_0 needs a multiple of ${q5_0BlockSize} values, got ${values.length}`);
    const blocks = values.length / q5_0BlockSize;
    const out = new Uint8Array(blocks * blockBytes);
    const view = new DataView(out.buffer);
    for (let b = 0; b < blocks; b++) {
        const base = b * q5_0BlockSize;
        let amax = 0;
        let max = 0;
        for (let i = 0; i < q5_0BlockSize; i++) {
            const v = values[base + i]!;
            if (amax < Math.abs(v)) {
                amax = Math.abs(v);
                max = v;
            }
        }
        const d = f(max / -16);
        const id = d !== 0 ? f(1 / d) : 0;
        const at = b * blockBytes;
        view.setUint16(at, float32ToFloat16Bits(d), true);
        let qh = 0;
        for (let j = 0; j < q5_0BlockSize / 2; j++) {
            const q0 = Math.min(31, Math.trunc(f(f(values[base + j]! * id) + 16.5)));
            const q1 = Math.min(31, Math.trunc(f(f(values[base + 16 + j]! * id) + 16.5)));
            out[at + 6 + j] = (q0 & 0x0f) | ((q1 & 0x0f) << 4);
            qh |= ((q0 & 0x10) >> 4) << j;
            qh |= ((q1 & 0x10) >> 4) << (j + 16);
        }
        view.setUint32(at + 2, qh >>> 0, true);
    }
    return out;
}
