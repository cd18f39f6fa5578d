import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Llama, LlamaModel, Token } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { greedyTokens } from "../../bench/twins/greedy-agreement.ts";
import { buildHeavyTwin } from "../../bench/twins/heavy-twin.ts";
import { getRuntime } from "../runtime/llama-runtime.ts";
import { GgmlType, ggmlTypeName } from "./ggml-types.ts";
import { readGgufFile } from "./gguf-reader.ts";
import { synthesizeModel } from "./synth.ts";
import type { WeightTypeName } from "./weight-type.ts";

const dir = mkdtempSync(join(tmpdir(), "presage-quant-"));
/** dim 256 and ff 512: every matrix row is a multiple of 256, so Q4_K applies to all of them. */
const shape = { seed: 5, layers: 2, dim: 256, heads: 4, kvHeads: 2, feedForward: 512 } as const;
const prompt = "Once upon a time there was a little girl named lily";
const types: WeightTypeName[] = ["f16", "q8_0", "q4_0", "q4_k"];
/**
 * Bounds on the total variation distance ½Σ|p − q| of each position's next-token distribution from
 * the F16 model's, about 2–2.5× what was measured here (llama.cpp CPU, AVX2, 15 positions): Q8_0 0.0042,
 * Q4_0 0.050, Q4_K 0.042, the Q5_0 fallback 0.028; largest single |Δp| 0.0004, 0.011, 0.0042, 0.0025.
 * Another seed's model measured 0.40.
 */
const BOUND_TV = { q8_0: 0.01, q4_0: 0.1, q4_k: 0.1 };
let llama: Llama;
const models = new Map<WeightTypeName, LlamaModel>();
const paths = new Map<WeightTypeName, string>();

/** Largest |p − q| over all tokens and positions, and largest total variation ½Σ|p − q| over positions. */
function compare(a: Map<Token, number>[], b: Map<Token, number>[]): { maxDp: number; maxTv: number } {
    let maxDp = 0;
    let maxTv = 0;
    for (let i = 0; i < a.length; i++) {
        expect(b[i]!.size).toBe(a[i]!.size);
        let tv = 0;
        for (const [token, p] of a[i]!) {
            const d = Math.abs(p - (b[i]!.get(token) ?? 0));
            maxDp = Math.max(maxDp, d);
            tv += d / 2;
        }
        maxTv = Math.max(maxTv, tv);
    }
    return { maxDp, maxTv };
}

/** The next-token distribution (softmax of the logits, no truncation) after each prefix of the prompt. */
async function distributions(model: LlamaModel): Promise<Map<Token, number>[]> {
    // topK 0, topP 1, minP 0: the whole vocabulary's softmax, so every token's probability is compared.
    const input = model.tokenize(prompt);
    const context = await model.createContext({ threads: 1, contextSize: 128 });
    try {
        const results = await context.getSequence().controlledEvaluate(
            input.map((token) => [token, { generateNext: { probabilities: true, options: { temperature: 1, topK: 0, topP: 1, minP: 0 } } }])
        );
        return results.map((r) => r!.next.probabilities!);
    } finally {
        await context.dispose();
    }
}

beforeAll(async () => {
    llama = await getRuntime();
    for (const type of types) {
        const out = join(dir, `synth-${type}.gguf`);
        await synthesizeModel({ out, ...shape, type });
        paths.set(type, out);
        models.set(type, await llama.loadModel({ modelPath: out }));
    }
}, 60_000);
afterAll(async () => {
    for (const model of models.values()) await model.dispose();
    rmSync(dir, { recursive: true, force: true });
});

describe("quantized synthesized models in llama.cpp", () => {
    it("stores every matrix in the requested type and the norms in F32", async () => {
        for (const [type, id] of [["q8_0", GgmlType.Q8_0], ["q4_0", GgmlType.Q4_0], ["q4_k", GgmlType.Q4_K]] as const) {
            const file = await readGgufFile(paths.get(type)!);
            for (const tensor of file.tensors) expect(tensor.typeName, `${type} ${tensor.name}`).toBe(ggmlTypeName(tensor.shape.length === 1 ? GgmlType.F32 : id));
        }
    });

    it("gives next-token probabilities close to the F16 model's at every position", async () => {
        const reference = await distributions(models.get("f16")!);
        expect(reference[0]!.size).toBe(590);
        const deltas: Record<string, { maxDp: number; maxTv: number }> = {};
        for (const type of ["q8_0", "q4_0", "q4_k"] as const) deltas[type] = compare(reference, await distributions(models.get(type)!));
        // The yardstick: another seed's F16 model, which shares nothing but the vocabulary.
        const other = join(dir, "synth-f16-other-seed.gguf");
        await synthesizeModel({ out: other, ...shape, seed: shape.seed + 1, type: "f16" });
        const otherModel = await llama.loadModel({ modelPath: other });
        try {
            deltas.otherSeed = compare(reference, await distributions(otherModel));
        } finally {
            await otherModel.dispose();
        }
        console.log("max |Δp| against F16 over", reference.length, "positions:", JSON.stringify(deltas));
        // See BOUND_TV for what was measured.
        expect(deltas.q8_0!.maxDp).toBeLessThan(0.002);
        expect(deltas.q4_0!.maxDp).toBeLessThan(0.03);
        expect(deltas.q4_k!.maxDp).toBeLessThan(0.015);
        expect(deltas.q8_0!.maxTv).toBeLessThan(BOUND_TV.q8_0);
        expect(deltas.q4_0!.maxTv).toBeLessThan(BOUND_TV.q4_0);
        expect(deltas.q4_k!.maxTv).toBeLessThan(BOUND_TV.q4_k);
        // The bounds tell models apart: an unrelated model is far outside them.
        expect(deltas.otherSeed!.maxTv).toBeGreaterThan(3 * BOUND_TV.q4_0);
    });

    it("stores Q4_K matrices whose rows are not a multiple of 256 as Q5_0, as llama-quantize does, and they load", async () => {
        const out = join(dir, "synth-64-q4_k.gguf");
        await synthesizeModel({ out, seed: 5, type: "q4_k" });
        const file = await readGgufFile(out);
        expect(new Set(file.tensors.filter((t) => t.shape.length === 2).map((t) => t.typeName))).toEqual(new Set(["Q5_0"]));
        const reference = join(dir, "synth-64-f16.gguf");
        await synthesizeModel({ out: reference, seed: 5, type: "f16" });
        const [q5, f16] = [await llama.loadModel({ modelPath: out }), await llama.loadModel({ modelPath: reference })];
        try {
            const delta = compare(await distributions(f16), await distributions(q5));
            console.log("Q5_0 fallback against F16:", JSON.stringify(delta));
            expect(delta.maxDp).toBeLessThan(0.03);
            expect(delta.maxTv).toBeLessThan(BOUND_TV.q4_0);
        } finally {
            await q5.dispose();
            await f16.dispose();
        }
    });

    it("builds a Q4_K heavy twin that llama.cpp loads and runs", async () => {
        const out = join(dir, "twin-q4_k.gguf");
        const twin = await buildHeavyTwin({ from: paths.get("f16")!, out, params: 6e6, type: "q4_k" });
        expect(twin.type).toBe("q4_k");
        const file = await readGgufFile(out);
        const matrices = file.tensors.filter((t) => t.shape.length === 2);
        expect(matrices.filter((t) => t.typeName === "Q4_K").length).toBeGreaterThan(matrices.length / 2);
        for (const t of matrices) expect(t.typeName, t.name).toBe(t.shape[0]! % 256 === 0 ? "Q4_K" : "Q5_0");
        expect(file.metadata["general.file_type"]!.value).toBe(14);
        const model = await llama.loadModel({ modelPath: out });
        try {
            expect(await greedyTokens(model, prompt, 4, { threads: 1 })).toHaveLength(4);
        } finally {
            await model.dispose();
        }
    }, 30_000);
});
