import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Llama, LlamaModel } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { greedyTokens } from "../../bench/twins/greedy-agreement.ts";
import { getRuntime } from "../runtime/llama-runtime.ts";
import { realVocabularyPath } from "../testing/real-vocabularies.ts";
import { GgmlType } from "./ggml-types.ts";
import { GgufFormatError } from "./gguf-error.ts";
import { kv } from "./gguf-metadata.ts";
import { readGgufFile, requireTensor } from "./gguf-reader.ts";
import { writeGgufFile } from "./gguf-writer.ts";
import { synthesizeModel } from "./synth.ts";

const dir = mkdtempSync(join(tmpdir(), "presage-synth-vocab-"));
const text = "Hello, world — ünïcödé 你好";
let llama: Llama;
let vocabPath: string;
let modelPath: string;
let model: LlamaModel | undefined;
let vocabOnly: LlamaModel | undefined;

beforeAll(async () => {
    vocabPath = realVocabularyPath("qwen2");
    modelPath = join(dir, "qwen2-synth.gguf");
    await synthesizeModel({ out: modelPath, vocabularyFrom: vocabPath, type: "f16", seed: 3 });
    llama = await getRuntime();
    model = await llama.loadModel({ modelPath });
    vocabOnly = await llama.loadModel({ modelPath: vocabPath, vocabOnly: true });
}, 60_000);
afterAll(async () => {
    await model?.dispose();
    await vocabOnly?.dispose();
    rmSync(dir, { recursive: true, force: true });
});

describe("synthesizeModel --vocabulary-from a real vocabulary (llama.cpp's ggml-vocab-qwen2.gguf)", () => {
    it("carries every tokenizer key of the file, chat template included, and sizes the model to its 151,936 tokens", async () => {
        const source = await readGgufFile(vocabPath);
        const synth = await readGgufFile(modelPath);
        const keys = Object.keys(source.metadata).filter((k) => k.startsWith("tokenizer."));
        expect(keys).toEqual(expect.arrayContaining(["tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.pre", "tokenizer.chat_template"]));
        expect(Object.keys(synth.metadata).filter((k) => k.startsWith("tokenizer."))).toEqual(keys);
        for (const key of keys) expect(synth.metadata[key], key).toEqual(source.metadata[key]);
        expect(synth.metadata["llama.vocab_size"]!.value).toBe(151936);
        expect(requireTensor(synth, "output.weight")).toMatchObject({ shape: [64, 151936], type: GgmlType.F16 });
        expect(requireTensor(synth, "token_embd.weight").shape).toEqual([64, 151936]);
    });

    it("tokenizes text as the vocabulary-only file does, in llama.cpp", () => {
        const tokens = model!.tokenize(text);
        expect(tokens.length).toBeGreaterThan(5);
        expect(tokens).toEqual(vocabOnly!.tokenize(text));
        expect(model!.detokenize(tokens)).toBe(text);
        expect(model!.tokens.eos).toBe(vocabOnly!.tokens.eos);
        expect(model!.fileInfo.metadata.tokenizer.chat_template).toBe(vocabOnly!.fileInfo.metadata.tokenizer.chat_template);
    });

    it("loads and generates tokens of that vocabulary", async () => {
        const out = await greedyTokens(model!, text, 6, { threads: 1 });
        expect(out).toHaveLength(6);
        for (const token of out) expect(token).toBeLessThan(151936);
        expect(out).toEqual(await greedyTokens(model!, text, 6, { threads: 1 }));
    });

    it.each(["phi-3", "llama-bpe"] as const)("takes the %s vocabulary too, tokenizing as its vocabulary-only file does", async (name) => {
        const path = realVocabularyPath(name);
        const out = join(dir, `${name}-synth.gguf`);
        await synthesizeModel({ out, vocabularyFrom: path, type: "q8_0", layers: 1 });
        const [synth, reference] = [await llama.loadModel({ modelPath: out }), await llama.loadModel({ modelPath: path, vocabOnly: true })];
        try {
            expect(synth.tokenize(text)).toEqual(reference.tokenize(text));
            expect(synth.tokens.bos).toBe(reference.tokens.bos);
            expect(synth.tokens.eos).toBe(reference.tokens.eos);
            expect(await greedyTokens(synth, text, 2, { threads: 1 })).toHaveLength(2);
        } finally {
            await synth.dispose();
            await reference.dispose();
        }
    }, 30_000);

    it("refuses a vocabulary file without tokens in one line", async () => {
        const empty = join(dir, "no-tokens.gguf");
        await writeGgufFile(empty, { metadata: { "general.architecture": kv.string("llama"), "tokenizer.ggml.model": kv.string("gpt2") }, tensors: [] });
        const attempt = synthesizeModel({ out: join(dir, "x.gguf"), vocabularyFrom: empty });
        await expect(attempt).rejects.toThrow(GgufFormatError);
        await expect(attempt).rejects.toThrow(/^\S+no-tokens\.gguf has no tokenizer\.ggml\.tokens, so there is no vocabulary to take from it\.$/);
        await expect(synthesizeModel({ out: join(dir, "y.gguf"), vocabularyFrom: join(dir, "missing.gguf") })).rejects.toThrow(/missing\.gguf does not exist\.$/);
    });
});
