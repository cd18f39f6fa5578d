import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LlamaChatSession, resolveChatWrapper, type Llama, type LlamaModel } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getRuntime } from "../runtime/llama-runtime.ts";
import { greedyTokens } from "../../bench/twins/greedy-agreement.ts";
import { metadataArray } from "./gguf-metadata.ts";
import { readGgufFile } from "./gguf-reader.ts";
import { synthesizeModel, synthOptionsProblem } from "./synth.ts";
import { TokenType } from "./synth-vocabulary.ts";

const dir = mkdtempSync(join(tmpdir(), "presage-synth-"));
let llama: Llama;
let model: LlamaModel;
const path = join(dir, "synth.gguf");

beforeAll(async () => {
    await synthesizeModel({ out: path, seed: 7 });
    llama = await getRuntime();
    model = await llama.loadModel({ modelPath: path });
});
afterAll(async () => {
    await model?.dispose();
    rmSync(dir, { recursive: true, force: true });
});

describe("synthesizeModel", () => {
    it("writes the same bytes for the same options, other bytes for another seed", async () => {
        const again = join(dir, "again.gguf");
        const other = join(dir, "other.gguf");
        await synthesizeModel({ out: again, seed: 7 });
        await synthesizeModel({ out: other, seed: 8 });
        expect(readFileSync(again).equals(readFileSync(path))).toBe(true);
        expect(readFileSync(other).equals(readFileSync(path))).toBe(false);
    });

    it("has the documented shape and a SentencePiece vocabulary with byte fallback", async () => {
        const file = await readGgufFile(path);
        const meta = file.metadata;
        expect(meta["llama.block_count"]!.value).toBe(2);
        expect(meta["llama.embedding_length"]!.value).toBe(64);
        expect(meta["llama.attention.head_count"]!.value).toBe(4);
        expect(meta["llama.attention.head_count_kv"]!.value).toBe(2);
        expect(meta["llama.feed_forward_length"]!.value).toBe(128);
        expect(meta["llama.context_length"]!.value).toBe(512);
        expect(meta["tokenizer.ggml.model"]!.value).toBe("llama");
        const tokens = metadataArray(meta, "tokenizer.ggml.tokens") as string[];
        const types = metadataArray(meta, "tokenizer.ggml.token_type") as number[];
        expect(tokens.slice(0, 3)).toEqual(["<unk>", "<s>", "</s>"]);
        expect(tokens[3]).toBe("<0x00>");
        expect(tokens[258]).toBe("<0xFF>");
        expect(types.slice(3, 259).every((t) => t === TokenType.BYTE)).toBe(true);
        expect(tokens).toContain("▁the");
        expect(types.filter((t) => t === TokenType.NORMAL).length).toBeGreaterThan(300);
        expect(new Set(tokens).size).toBe(tokens.length);
        expect(metadataArray(meta, "tokenizer.ggml.scores")).toHaveLength(tokens.length);
        expect(model.tokens.bos).toBe(1);
        expect(model.tokens.eos).toBe(2);
    });

    it("tokenizes any text, words to single pieces and the rest through bytes", async () => {
        const tokens = metadataArray((await readGgufFile(path)).metadata, "tokenizer.ggml.tokens") as string[];
        expect(model.tokenize("the dog")).toEqual([tokens.indexOf("▁the"), tokens.indexOf("▁dog")]);
        const unicode = "naïve ☃";
        expect(model.detokenize(model.tokenize(unicode))).toBe(unicode);
    });

    it("loads in llama.cpp and generates 16 varied tokens, the same ones every time", async () => {
        const first = await greedyTokens(model, "Once upon a time", 16);
        const second = await greedyTokens(model, "Once upon a time", 16);
        expect(first).toHaveLength(16);
        expect(second).toEqual(first);
        expect(new Set(first).size).toBeGreaterThanOrEqual(6);
        const other = await greedyTokens(model, "The big red ball", 16);
        expect(other).not.toEqual(first);
    });

    it("chats through node-llama-cpp's ChatML wrapper", async () => {
        expect(resolveChatWrapper(model).wrapperName).toBe("ChatML");
        const context = await model.createContext({ threads: 1, contextSize: 256 });
        try {
            const session = new LlamaChatSession({ contextSequence: context.getSequence() });
            const answer = await session.prompt("Hello there", { maxTokens: 12, temperature: 0 });
            expect(answer.length).toBeGreaterThan(0);
        } finally {
            await context.dispose();
        }
    });

    it("explains options it cannot build", () => {
        expect(synthOptionsProblem({})).toBeUndefined();
        expect(synthOptionsProblem({ dim: 63 })).toMatch(/dim \(63\) must be a multiple of 2 × heads/);
        expect(synthOptionsProblem({ heads: 4, kvHeads: 3 })).toMatch(/kvHeads \(3\) must divide heads/);
        expect(synthOptionsProblem({ layers: 0 })).toMatch(/layers must be a whole number/);
        expect(synthOptionsProblem({ chain: [5, 6, 5, 7] })).toBe("chain token 5 is followed by both 6 and 7: a token can lead to one next token only");
        expect(synthOptionsProblem({ chain: [5, -1] })).toMatch(/chain tokens must be token ids, got -1/);
    });

    it("writes a chain into the weights that greedy decoding in llama.cpp follows, end-of-sequence token included", async () => {
        const out = join(dir, "chain.gguf");
        // After "▁the" (a normal token): four more tokens, then </s> (id 2, a control token whose row is otherwise zero).
        const chain = [300, 400, 350, 500, 450, 2];
        await synthesizeModel({ out, seed: 9, chain });
        await expect(synthesizeModel({ out: join(dir, "x.gguf"), chain: [5, 100_000] })).rejects.toThrow("chain token 100000 is outside the vocabulary (590 tokens)");
        const model = await llama.loadModel({ modelPath: out });
        try {
            const context = await model.createContext({ contextSize: 64, threads: 1 });
            try {
                const sequence = context.getSequence();
                const drawn: number[] = [];
                for await (const token of sequence.evaluate(model.tokenize("a cat sat").concat(chain[0]! as never), { temperature: 0 })) {
                    drawn.push(token);
                    if (model.isEogToken(token) || drawn.length >= 8) break;
                }
                // node-llama-cpp's evaluate ends at the end-of-sequence token without yielding it: well before 8 tokens.
                expect(drawn).toEqual(chain.slice(1, -1));
            } finally {
                await context.dispose();
            }
        } finally {
            await model.dispose();
        }
    });
});
