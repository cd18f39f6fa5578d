import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { getRuntime } from "../runtime/llama-runtime.ts";
import { describeWithStories } from "../testing/stories.ts";
import { deriveEarlyExitDraft } from "./derive-draft.ts";
import { greedyTokens } from "../../bench/twins/greedy-agreement.ts";
import { TransformOptionError } from "./gguf-error.ts";
import { readGgufFile, readTensorBytes, type GgufFile } from "./gguf-reader.ts";
import { synthesizeModel } from "./synth.ts";

const dir = mkdtempSync(join(tmpdir(), "presage-derive-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Every metadata key but the two a derivation changes must be equal, vocabulary included. */
function expectSameExceptBlocks(draft: GgufFile, target: GgufFile, layers: number) {
    const changed = ["llama.block_count", "general.name"];
    expect(Object.keys(draft.metadata)).toEqual(Object.keys(target.metadata));
    for (const key of Object.keys(target.metadata)) if (!changed.includes(key)) expect(draft.metadata[key], key).toEqual(target.metadata[key]);
    expect(draft.metadata["llama.block_count"]!.value).toBe(layers);
}

async function loadAndGenerate(path: string) {
    const llama = await getRuntime();
    const model = await llama.loadModel({ modelPath: path });
    try {
        const first = await greedyTokens(model, "Once upon a time", 16);
        const second = await greedyTokens(model, "Once upon a time", 16);
        return { first, second };
    } finally {
        await model.dispose();
    }
}

describeWithStories("deriveEarlyExitDraft of stories260K", (storiesPath) => {
    it("keeps the first blocks, the output head and the exact vocabulary, and generates", async () => {
        const out = join(dir, "stories-early-2.gguf");
        const result = await deriveEarlyExitDraft({ from: storiesPath, layers: 2, out });
        expect(result).toMatchObject({ out, layers: 2, targetLayers: 5, architecture: "llama" });
        const target = await readGgufFile(storiesPath);
        const draft = await readGgufFile(out);
        expectSameExceptBlocks(draft, target, 2);
        expect(draft.metadata["tokenizer.ggml.tokens"]).toEqual(target.metadata["tokenizer.ggml.tokens"]);
        expect(draft.metadata["tokenizer.ggml.token_type"]).toEqual(target.metadata["tokenizer.ggml.token_type"]);

        const expectedNames = target.tensors.map((t) => t.name).filter((n) => !/^blk\.[2-4]\./.test(n));
        expect(draft.tensors.map((t) => t.name)).toEqual(expectedNames);
        expect(draft.tensors).toHaveLength(3 + 2 * 9);
        for (const tensor of draft.tensors) {
            const original = target.tensors.find((t) => t.name === tensor.name)!;
            expect(tensor.shape, tensor.name).toEqual(original.shape);
            expect(tensor.type).toBe(original.type);
            expect(await readTensorBytes(draft, tensor)).toEqual(await readTensorBytes(target, original));
        }
        expect(result.parameterCount).toBe(draft.parameterCount);

        const { first, second } = await loadAndGenerate(out);
        expect(first).toHaveLength(16);
        expect(second).toEqual(first);
    });

    it("refuses 0 layers and as many layers as the target has", async () => {
        const out = join(dir, "never.gguf");
        for (const layers of [0, 5, 7, 1.5])
            await expect(deriveEarlyExitDraft({ from: storiesPath, layers, out })).rejects.toThrow(TransformOptionError);
        await expect(deriveEarlyExitDraft({ from: storiesPath, layers: 5, out })).rejects.toThrow(
            "cannot keep 5 layers: an early exit keeps 1 to 4 of the model's 5 blocks"
        );
    });
});

describe("deriveEarlyExitDraft of a synthesized model", () => {
    it("works on any llama file, here a 4-block synthetic one cut to 1 block", async () => {
        const target = join(dir, "synth-4.gguf");
        await synthesizeModel({ out: target, layers: 4, seed: 3 });
        const out = join(dir, "synth-early-1.gguf");
        await deriveEarlyExitDraft({ from: target, layers: 1, out });
        expectSameExceptBlocks(await readGgufFile(out), await readGgufFile(target), 1);
        const { first, second } = await loadAndGenerate(out);
        expect(second).toEqual(first);
    });
});
