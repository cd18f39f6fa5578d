import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { float16BitsToFloat32 } from "./float16.ts";
import { quantizeQ4_0 } from "./q4-0.ts";
import { quantizeQ4_K } from "./q4-k.ts";
import { quantizeQ5_0 } from "./q5-0.ts";
import { SeededRandom } from "./seeded-random.ts";

/** 64 super-blocks of four kinds: plain, all positive (Q4_K's min), a few outliers, zero sub-blocks. */
function referenceInput(): Float32Array {
    const x = new Float32Array(256 * 64);
    const r = new SeededRandom(11, "reference");
    for (let i = 0; i < x.length; i++) {
        const kind = Math.floor(i / 256) % 4;
        x[i] =
            kind === 0 ? r.uniform(1)
            : kind === 1 ? r.uniform(0.01) + 0.02
            : kind === 2 ? (r.next() < 0.1 ? r.uniform(5) : r.uniform(0.05))
            : Math.floor(i / 32) % 3 === 0 ? 0 : r.uniform(0.3);
    }
    return x;
}

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

describe("quantizers", () => {
    // The hashes are of what ggml-quants.c's quantize_row_{q4_0,q5_0,q4_K}_ref (llama.cpp as bundled
    // by node-llama-cpp 3.21.1) wrote for this input, compiled with gcc -O2 -ffp-contract=off (no fused
    // multiply-adds, so float32 rounding as the C source says). Any change of rounding or layout fails.
    it("write the bytes ggml's reference quantizers write", () => {
        const x = referenceInput();
        expect(sha256(quantizeQ4_0(x))).toBe("ff1b15e2dae3cd8be2a381bcd37a5a96e9a33ec8928bebd9f015cb4807dc4363");
        expect(sha256(quantizeQ5_0(x))).toBe("6385e9d779242207f7b191da6ed8effd498e3d4201d31b750b084163768eefc0");
        expect(sha256(quantizeQ4_K(x))).toBe("36e72dac999c40216e027c5c1c8d14ace9289a8a83c1927067e41583e479b3d2");
    });

    it("lay out blocks as ggml does: Q4_0 d then nibbles j | j+16, Q4_K 144 bytes per 256", () => {
        const block = Float32Array.from({ length: 32 }, (_, i) => (i === 0 ? -8 : i < 16 ? 1 : -1));
        const q = quantizeQ4_0(block);
        expect(q.length).toBe(18);
        expect(float16BitsToFloat32(q[0]! | (q[1]! << 8))).toBe(1); // d = max / −8 with max = −8
        expect(q[2]).toBe(0 | (7 << 4)); // x0 = −8 → 0; x16 = −1 → 7
        expect(q[3]).toBe(9 | (7 << 4)); // x1 = 1 → 9
        expect(quantizeQ4_K(new Float32Array(512)).length).toBe(288);
        expect(() => quantizeQ4_K(new Float32Array(64))).toThrow(/Q4_K needs a multiple of 256 values, got 64/);
        expect(() => quantizeQ4_0(new Float32Array(33))).toThrow(/Q4_0 needs a multiple of 32/);
    });
});
