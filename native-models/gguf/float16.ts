// IEEE half-precision conversions. Node 20 has no Float16Array, and llama.cpp stores F16 weights as
// raw binary16, so we convert ourselves: round-to-nearest-even, subnormals, infinities and NaN kept.

const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);

function halfBitsFromFloatBits(bits: number): number {
    const sign = (bits >>> 16) & 0x8000;
    const exponent = (bits >>> 23) & 0xff;
    let mantissa = bits & 0x7fffff;
    if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
    const e = exponent - 112; // rebias 127 -> 15
    if (e >= 0x1f) return sign | 0x7c00;
    if (e <= 0) {
        if (e < -10) return sign;
        mantissa |= 0x800000;
        const shift = 14 - e;
        let half = mantissa >>> shift;
        const rest = mantissa & ((1 << shift) - 1);
        const halfway = 1 << (shift - 1);
        if (rest > halfway || (rest === halfway && (half & 1) !== 0)) half++;
        return sign | half;
    }
    // A carry out of the mantissa correctly bumps the exponent (and rounds the largest values to infinity).
    let half = (e << 10) | (mantissa >>> 13);
    const rest = mantissa & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (half & 1) !== 0)) half++;
    return sign | half;
}

/** One float32 value as binary16 bits. */
export function float32ToFloat16Bits(value: number): number {
    scratch[0] = value;
    return halfBitsFromFloatBits(scratchBits[0]!);
}

/** A whole array as binary16 bits. */
export function float32ArrayToFloat16(values: Float32Array): Uint16Array {
    const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
    const out = new Uint16Array(values.length);
    for (let i = 0; i < bits.length; i++) out[i] = halfBitsFromFloatBits(bits[i]!);
    return out;
}

let halfTable: Float32Array | undefined;

// 65,536 entries (256 KB) make decoding a table lookup; built on first use only.
function halfToFloatTable(): Float32Array {
    if (halfTable != null) return halfTable;
    halfTable = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) {
        const sign = h & 0x8000 ? -1 : 1;
        const exponent = (h >>> 10) & 0x1f;
        const mantissa = h & 0x3ff;
        halfTable[h] =
            exponent === 0 ? sign * mantissa * 2 ** -24
            : exponent === 31 ? (mantissa !== 0 ? NaN : sign * Infinity)
            : sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
    }
    return halfTable;
}

/** binary16 bits to float32 values. */
export function float16ToFloat32Array(halves: Uint16Array): Float32Array {
    const table = halfToFloatTable();
    const out = new Float32Array(halves.length);
    for (let i = 0; i < halves.length; i++) out[i] = table[halves[i]!]!;
    return out;
}

/** One binary16 value. */
export function float16BitsToFloat32(bits: number): number {
    return halfToFloatTable()[bits & 0xffff]!;
}

/** bfloat16 bits (the top half of a float32) to float32 values. */
export function bfloat16ToFloat32Array(halves: Uint16Array): Float32Array {
    const out = new Float32Array(halves.length);
    const outBits = new Uint32Array(out.buffer);
    for (let i = 0; i < halves.length; i++) outBits[i] = halves[i]! << 16;
    return out;
}
