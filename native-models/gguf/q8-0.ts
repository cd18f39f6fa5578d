import { float32ToFloat16Bits } from "./float16.ts";

/** Values per Q8_0 block; each block is an F16 scale followed by 32 signed bytes (34 bytes). */
export const q8BlockSize = 32;

/**
 * Quantizes to ggml's Q8_0 the way llama.cpp's reference quantizer does: per block of 32, scale =
 * max|x| / 127 and q = round(x / scale). Q8_0 is the usual "near-lossless" storage of local models,
 * and on a CPU its matrix kernels reuse weights across a batch, which F16 ones here do not.
 */
export function quantizeQ8_0(values: Float32Array): Uint8Array {
    if (values.length % q8BlockSize !== 0) throw new RangeError(`Q8_0 needs a multiple of ${q8BlockSize} values, got ${values.length}`);
    const blocks = values.length / q8BlockSize;
    const out = new Uint8Array(blocks * 34);
    const view = new DataView(out.buffer);
    for (let b = 0; b < blocks; b++) {
        const base = b * q8BlockSize;
        let amax = 0;
        for (let i = 0; i < q8BlockSize; i++) amax = Math.max(amax, Math.abs(values[base + i]!));
        const d = amax / 127;
        const id = d === 0 ? 0 : 1 / d;
        view.setUint16(b * 34, float32ToFloat16Bits(d), true);
        for (let i = 0; i < q8BlockSize; i++) view.setInt8(b * 34 + 2 + i, Math.round(values[base + i]! * id));
    }
    return out;
}
