import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { getRuntime } from "../../native-models/runtime/llama-runtime.ts";
import { describeWithStories } from "../../native-models/testing/stories.ts";
import { GgmlType, tensorByteSize } from "../../native-models/gguf/ggml-types.ts";
import { measureGreedyAgreement, greedyTokens } from "./greedy-agreement.ts";
import { GgufFormatError, TransformOptionError } from "../../native-models/gguf/gguf-error.ts";
import { readGgufFile, readTensorBytes, readTensorFloat32, requireTensor, type GgufFile } from "../../native-models/gguf/gguf-reader.ts";
import { writeGgufFile } from "../../native-models/gguf/gguf-writer.ts";
import { buildHeavyTwin, planHeavyTwin } from "./heavy-twin.ts";
import { ensureHeavyTwin } from "./heavy-twin-cache.ts";
import { readLlamaShape } from "../../native-models/gguf/llama-shape.ts";

const dir = mkdtempSync(join(tmpdir(), "presage-twin-"));
/** Twins are kept between runs outside the repository, as the benchmarks keep theirs. */
const cacheDir = join(tmpdir(), "presage-cache");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const rms = (values: Float32Array) => Math.sqrt(values.reduce((s, v) => s + v * v, 0) / values.length);
const tensor = async (file: GgufFile, name: string) => readTensorFloat32(file, requireTensor(file, name));

describeWithStories("buildHeavyTwin of stories260K", (storiesPath) => {
    // One exact (perturb 0, F32) 3M twin with new blocks, shared by the tests that inspect it.
    let exactTwin: ReturnType<typeof buildHeavyTwin> | undefined;
    const buildExactTwin = () => (exactTwin ??= buildHeavyTwin({ from: storiesPath, out: join(dir, "twin-f32.gguf"), params: 3e6, type: "f32" }));

    it("plans 150M parameters as a wider, deeper llama within 1% of the target", async () => {
        const source = await readGgufFile(storiesPath);
        const plan = planHeavyTwin(readLlamaShape(source), source.parameterCount, 150e6);
        expect(plan).toMatchObject({ widthFactor: 12, embeddingLength: 768, headCount: 96, headCountKv: 48, blockCount: 23 });
        expect(Math.abs(plan.parameterCount / 150e6 - 1)).toBeLessThan(0.01);
        expect(plan.originalBlockPositions).toEqual([0, 4, 9, 13, 18]);
        expect(() => planHeavyTwin(readLlamaShape(source), source.parameterCount, 1000)).toThrow(TransformOptionError);
    });

    it("plans a Q4_K twin with widths that are whole Q4_K super-blocks (multiples of 256), so no matrix falls back to Q5_0", async () => {
        const source = await readGgufFile(storiesPath);
        const free = planHeavyTwin(readLlamaShape(source), source.parameterCount, 1500e6);
        // Left free, the 1.5B plan's width (1600) is no multiple of 256: every matrix would be Q5_0.
        expect(free.embeddingLength % 256).not.toBe(0);
        const plan = planHeavyTwin(readLlamaShape(source), source.parameterCount, 1500e6, 0, 256);
        expect(plan.embeddingLength % 256).toBe(0);
        expect(plan.feedForwardLength % 256).toBe(0);
        expect(plan.headCount * 8).toBe(plan.embeddingLength);
        expect(Math.abs(plan.parameterCount / 1500e6 - 1)).toBeLessThan(0.02);
    });

    it("writes a 5M twin with the designed shapes and the source's exact vocabulary, which loads and generates", async () => {
        const path = await ensureHeavyTwin({ from: storiesPath, params: 5e6, cacheDir });
        expect(await ensureHeavyTwin({ from: storiesPath, params: 5e6, cacheDir })).toBe(path);
        const source = await readGgufFile(storiesPath);
        const twin = await readGgufFile(path);
        expect(Math.abs(twin.parameterCount / 5e6 - 1)).toBeLessThan(0.05);
        for (const key of ["tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.scores", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"])
            expect(twin.metadata[key], key).toEqual(source.metadata[key]);

        const shape = readLlamaShape(twin);
        const plan = planHeavyTwin(readLlamaShape(source), source.parameterCount, 5e6);
        expect(shape).toMatchObject({
            blockCount: plan.blockCount,
            embeddingLength: plan.embeddingLength,
            feedForwardLength: plan.feedForwardLength,
            headCount: plan.headCount,
            headCountKv: plan.headCountKv,
            keyLength: 8,
            vocabularySize: 512
        });
        const D = plan.embeddingLength, F = plan.feedForwardLength;
        const expected: Record<string, number[]> = {
            attn_q: [D, plan.headCount * 8],
            attn_k: [D, plan.headCountKv * 8],
            attn_v: [D, plan.headCountKv * 8],
            attn_output: [plan.headCount * 8, D],
            attn_norm: [D],
            ffn_gate: [D, F],
            ffn_up: [D, F],
            ffn_down: [F, D],
            ffn_norm: [D]
        };
        expect(requireTensor(twin, "token_embd.weight").shape).toEqual([D, 512]);
        expect(requireTensor(twin, "output.weight").shape).toEqual([D, 512]);
        expect(twin.tensors).toHaveLength(3 + 9 * plan.blockCount);
        for (let b = 0; b < plan.blockCount; b++)
            for (const [role, dims] of Object.entries(expected)) {
                const t = requireTensor(twin, `blk.${b}.${role}.weight`);
                expect(t.shape, t.name).toEqual(dims);
                expect(t.type, t.name).toBe(dims.length === 1 ? GgmlType.F32 : GgmlType.F16);
            }

        const llama = await getRuntime();
        const model = await llama.loadModel({ modelPath: path });
        try {
            const first = await greedyTokens(model, "Once upon a time", 16);
            expect(first).toHaveLength(16);
            expect(await greedyTokens(model, "Once upon a time", 16)).toEqual(first);
        } finally {
            await model.dispose();
        }
    });

    it("starts as an exact no-op: zero writers in new blocks, zero new residual dimensions, scaled norms", async () => {
        const result = await buildExactTwin();
        const path = result.out;
        const twin = await readGgufFile(path);
        const source = await readGgufFile(storiesPath);
        const D0 = 64, D = result.embeddingLength;
        const newBlock = [...Array(result.blockCount).keys()].find((b) => !result.originalBlockPositions.includes(b))!;
        expect(newBlock).toBeDefined();
        expect(rms(await tensor(twin, `blk.${newBlock}.attn_output.weight`))).toBe(0);
        expect(rms(await tensor(twin, `blk.${newBlock}.ffn_down.weight`))).toBe(0);
        expect(rms(await tensor(twin, `blk.${newBlock}.attn_q.weight`))).toBeGreaterThan(0);
        // Original block 1 sits at its planned position with its weights in the top-left corner.
        const at = result.originalBlockPositions[1]!;
        const q0 = await tensor(source, "blk.1.attn_q.weight");
        const q = await tensor(twin, `blk.${at}.attn_q.weight`);
        expect([...q.subarray(D + 0, D + D0)]).toEqual([...q0.subarray(D0, 2 * D0)]);
        const down = await tensor(twin, `blk.${at}.ffn_down.weight`);
        expect(rms(down.subarray(D0 * result.feedForwardLength))).toBe(0); // rows writing new residual dims
        const embedding = await tensor(twin, "token_embd.weight");
        expect(rms(embedding.subarray(D0, D))).toBe(0); // token 0's new dimensions
        const norm0 = await tensor(source, "blk.1.attn_norm.weight");
        const norm = await tensor(twin, `blk.${at}.attn_norm.weight`);
        expect(norm[5]).toBeCloseTo(norm0[5]! * Math.sqrt(D0 / D), 6);
        expect(twin.metadata["llama.attention.layer_norm_rms_epsilon"]!.value).toBeCloseTo(1e-5 * (D0 / D), 9);
    });

    it("computes the source's function at perturb 0 (F32): same greedy tokens", async () => {
        const path = (await buildExactTwin()).out;
        const agreement = await measureGreedyAgreement({
            llama: await getRuntime(),
            target: path,
            candidate: storiesPath,
            prompts: ["Once upon a time", "The little dog"],
            tokens: 32
        });
        expect(agreement.positional).toBe(1);
        expect(agreement.meanCommonPrefix).toBe(32);
    });

    it("adds noise of the requested relative size to the zero-initialised weights only", async () => {
        const path = join(dir, "twin-noisy.gguf");
        const result = await buildHeavyTwin({ from: storiesPath, out: path, params: 3e6, perturb: 0.1, type: "f32", seed: 5 });
        const twin = await readGgufFile(path);
        const source = await readGgufFile(storiesPath);
        const newBlock = [...Array(result.blockCount).keys()].find((b) => !result.originalBlockPositions.includes(b))!;
        const nearest = result.originalBlockPositions.filter((p) => p < newBlock).length - 1;
        // Each new block writes 0.1·√(L0 / L_new) of an original block: per weight, σ·√(n0 / n) of that.
        const noise = rms(await tensor(twin, `blk.${newBlock}.attn_output.weight`));
        const reference = rms(await tensor(source, `blk.${nearest}.attn_output.weight`));
        const newBlocks = result.blockCount - 5;
        const expected = 0.1 * Math.sqrt(64 / (result.headCount * 8)) * Math.sqrt(5 / newBlocks);
        expect(noise / reference / expected).toBeGreaterThan(0.95);
        expect(noise / reference / expected).toBeLessThan(1.05);
        const q0 = await tensor(source, "blk.0.attn_q.weight");
        const q = await tensor(twin, "blk.0.attn_q.weight");
        expect([...q.subarray(0, 64)]).toEqual([...q0.subarray(0, 64)]);
    });

    it("refuses quantized weights with a GgufFormatError naming the tensor", async () => {
        const source = await readGgufFile(storiesPath);
        const quantized = join(dir, "stories-q4.gguf");
        await writeGgufFile(quantized, {
            metadata: source.metadata,
            tensors: source.tensors.map((t) =>
                t.name === "blk.0.attn_q.weight"
                    ? { name: t.name, shape: t.shape, type: GgmlType.Q4_0, data: new Uint8Array(tensorByteSize(GgmlType.Q4_0, t.shape)) }
                    : { name: t.name, shape: t.shape, type: t.type as GgmlType, data: () => readTensorBytes(source, t) }
            )
        });
        const attempt = buildHeavyTwin({ from: quantized, out: join(dir, "never.gguf"), params: 2e6 });
        await expect(attempt).rejects.toThrow(GgufFormatError);
        await expect(attempt).rejects.toThrow(/stories-q4\.gguf has tensor "blk\.0\.attn_q\.weight" in Q4_0, which this transform cannot use/);
    });
});

describe("buildHeavyTwin input checks", () => {
    it("names a source that is not a GGUF file", async () => {
        await expect(buildHeavyTwin({ from: join(dir, "missing.gguf"), out: join(dir, "x.gguf") })).rejects.toThrow(/missing\.gguf does not exist\./);
    });

    it("refuses a negative perturbation", async () => {
        await expect(buildHeavyTwin({ from: "x.gguf", out: join(dir, "x.gguf"), perturb: -1 })).rejects.toThrow(TransformOptionError);
    });
});
