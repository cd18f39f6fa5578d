import { float16BitsToFloat32, float32ToFloat16Bits } from "./float16.ts";

/** Values per Q4_K super-block (ggml's QK_K). */
export const q4_KBlockSize = 256;
/** f16 d, f16 dmin, 12 bytes of 6-bit scales and mins, 128 bytes of 4-bit values. */
const blockBytes = 144;
const f = Math.fround;

/** ggml's nearest_int: round half to even through the float32 mantissa trick. */
function nearestInt(value: number): number {
    return f(value + 12582912) - 12582912;
}

/**
 * ggml's `make_qkx2_quants` for one sub-block of 32 with nmax 15, rmin −1, rdelta 0.1, 20 steps and
 * squared error: the scale and min (returned as `[scale, −min]`) minimizing the weighted error,
 * with the levels in `levels[offset..offset+32)`. Every operation is rounded to float32 as in C.
 */
const shifted = new Float32Array(32);

function makeQkx2Quants(x: Float32Array, at: number, weights: Float32Array, levels: Uint8Array, offset: number, aux: Uint8Array): [number, number] {
    const n = 32;
    const nmax = 15;
    let min = x[at]!;
    let max = x[at]!;
    let sumW = weights[0]!;
    let sumX = f(sumW * x[at]!);
    for (let i = 1; i < n; i++) {
        const v = x[at + i]!;
        if (v < min) min = v;
        if (v > max) max = v;
        const w = weights[i]!;
        sumW = f(sumW + w);
        sumX = f(sumX + f(w * v));
    }
    if (min > 0) min = 0;
    if (max === min) {
        levels.fill(0, offset, offset + n);
        return [0, -min];
    }
    let iscale = f(nmax / f(max - min));
    let scale = f(1 / iscale);
    let bestError = 0;
    for (let i = 0; i < n; i++) {
        const l = Math.max(0, Math.min(nmax, nearestInt(f(iscale * f(x[at + i]! - min)))));
        levels[offset + i] = l;
        const diff = f(f(f(scale * l) + min) - x[at + i]!);
        bestError = f(bestError + f(weights[i]! * f(diff * diff)));
    }
    // x − min and max − min change only when a step improves on the error (min is replaced then, as
    // in C, and later steps use the new one): computed once per min, the same float32 values C computes.
    let range = f(max - min);
    for (let i = 0; i < n; i++) shifted[i] = x[at + i]! - min;
    for (let step = 0; step <= 20; step++) {
        iscale = f(f(f(-1 + f(0.1 * step)) + nmax) / range);
        let sumL = 0, sumL2 = 0, sumXL = 0;
        for (let i = 0; i < n; i++) {
            const scaled = iscale * shifted[i]!;
            // Clamp before rounding where the result cannot depend on it (cheaper; same levels).
            const l = scaled <= 0 ? 0 : scaled >= nmax + 1 ? nmax : Math.min(nmax, nearestInt(f(scaled)));
            aux[i] = l;
            const wl = f(weights[i]! * l);
            sumL = f(sumL + wl);
            sumL2 = f(sumL2 + f(wl * l));
            sumXL = f(sumXL + f(wl * x[at + i]!));
        }
        const D = f(f(sumW * sumL2) - f(sumL * sumL));
        if (D > 0) {
            let thisScale = f(f(f(sumW * sumXL) - f(sumX * sumL)) / D);
            let thisMin = f(f(f(sumL2 * sumX) - f(sumL * sumXL)) / D);
            if (thisMin > 0) {
                thisMin = 0;
                thisScale = f(sumXL / sumL2);
            }
            let error = 0;
            for (let i = 0; i < n; i++) {
                const diff = f(f(f(thisScale * aux[i]!) + thisMin) - x[at + i]!);
                error = f(error + f(weights[i]! * f(diff * diff)));
            }
            if (error < bestError) {
                levels.set(aux.subarray(0, n), offset);
                bestError = error;
                scale = thisScale;
                min = thisMin;
                range = f(max - min);
                for (let i = 0; i < n; i++) shifted[i] = x[at + i]! - min;
            }
        }
    }
    return [scale, -min];
}

/** ggml's get_scale_min_k4: the 6-bit scale and min of sub-block j from the 12 packed bytes. */
function scaleMin(j: number, q: Uint8Array, at: number): [number, number] {
    if (j < 4) return [q[at + j]! & 63, q[at + j + 4]! & 63];
    return [(q[at + j + 4]! & 0xf) | ((q[at + j - 4]! >> 6) << 4), (q[at + j + 4]! >> 4) | ((q[at + j]! >> 6) << 4)];
}

/**
 * Quantizes to ggml's Q4_K exactly as `quantize_row_q4_K_ref` does (no importance matrix, float32
 * arithmetic): each super-block of 256 is 8 sub-blocks of 32, each with its own scale and min found
 * by `make_qkx2_quants`, stored as 6-bit multiples of the super-block's F16 `d` and `dmin`; the 4-bit
 * levels are then recomputed against those rounded scales. Rows must be a multiple of 256 values.
 */
export function quantizeQ4_K(values: Float32Array): Uint8Array {
    if (values.length % q4_KBlockSize !== 0) throw new RangeError(`Q4_K needs a multiple of ${q4_KBlockSize} values, got ${values.length}`);
    const blocks = values.length / q4_KBlockSize;
    const out = new Uint8Array(blocks * blockBytes);
    const view = new DataView(out.buffer);
    const levels = new Uint8Array(q4_KBlockSize);
    const aux = new Uint8Array(32);
    const weights = new Float32Array(32);
    const scales = new Float32Array(8);
    const mins = new Float32Array(8);
    for (let b = 0; b < blocks; b++) {
        const base = b * q4_KBlockSize;
        const at = b * blockBytes;
        let maxScale = 0;
        let maxMin = 0;
        for (let j = 0; j < 8; j++) {
            let sumX2 = 0;
            for (let l = 0; l < 32; l++) {
                const v = values[base + 32 * j + l]!;
                sumX2 = f(sumX2 + f(v * v));
            }
            const avX = f(Math.sqrt(f(sumX2 / 32)));
            for (let l = 0; l < 32; l++) weights[l] = f(avX + Math.abs(values[base + 32 * j + l]!));
            const [scale, min] = makeQkx2Quants(values, base + 32 * j, weights, levels, 32 * j, aux);
            scales[j] = scale;
            mins[j] = min;
            if (scale > maxScale) maxScale = scale;
            if (min > maxMin) maxMin = min;
        }
        const invScale = maxScale > 0 ? f(63 / maxScale) : 0;
        const invMin = maxMin > 0 ? f(63 / maxMin) : 0;
        const scaleBytes = at + 4;
        for (let j = 0; j < 8; j++) {
            const ls = Math.min(63, nearestInt(f(invScale * scales[j]!)) & 0xff);
            const lm = Math.min(63, nearestInt(f(invMin * mins[j]!)) & 0xff);
            if (j < 4) {
                out[scaleBytes + j] = ls;
                out[scaleBytes + j + 4] = lm;
            } else {
                out[scaleBytes + j + 4] = (ls & 0xf) | ((lm & 0xf) << 4);
                out[scaleBytes + j - 4]! |= (ls >> 4) << 6;
                out[scaleBytes + j]! |= (lm >> 4) << 6;
            }
        }
        const dBits = float32ToFloat16Bits(f(maxScale / 63));
        const dminBits = float32ToFloat16Bits(f(maxMin / 63));
        view.setUint16(at, dBits, true);
        view.setUint16(at + 2, dminBits, true);
        const d = float16BitsToFloat32(dBits);
        const dmin = float16BitsToFloat32(dminBits);
        for (let j = 0; j < 8; j++) {
            const [sc, m] = scaleMin(j, out, scaleBytes);
            const dj = f(d * sc);
            // As in the reference: a zero scale keeps the levels make_qkx2_quants chose.
            if (dj === 0) continue;
            const dm = f(dmin * m);
            for (let i = 0; i < 32; i++)
                levels[32 * j + i] = Math.max(0, Math.min(15, nearestInt(f(f(values[base + 32 * j + i]! + dm) / dj))));
        }
        const qs = at + 16;
        for (let j = 0; j < q4_KBlockSize; j += 64)
            for (let l = 0; l < 32; l++) out[qs + j / 2 + l] = levels[j + l]! | (levels[j + l + 32]! << 4);
    }
    return out;
}
