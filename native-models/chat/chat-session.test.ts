import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { synthesizeModel } from "../gguf/synth.ts";
import { PresageEngine } from "../engine/presage-engine.ts";
import { describeWithStories } from "../testing/stories.ts";
import { ChatSession, type ChatMessage } from "./chat-session.ts";

const work = mkdtempSync(join(tmpdir(), "presage-chat-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("chat on a synthesized model with a ChatML template", () => {
    let engine: PresageEngine;
    let chat: ChatSession;
    beforeAll(async () => {
        const { out } = await synthesizeModel({ out: join(work, "chat.gguf"), seed: 5, contextLength: 512 });
        engine = await PresageEngine.load({ modelPath: out, threads: 1, contextSize: 512 });
        chat = new ChatSession(engine);
    });
    afterAll(() => engine?.dispose());

    it("builds prompts with the model's own template", () => {
        expect(chat.templateName).toBe("ChatML");
        const { tokens } = chat.buildPrompt([{ role: "system", content: "be brief" }, { role: "user", content: "hello" }], 16);
        const text = engine.model.detokenize(tokens, true);
        // SentencePiece detokenizing puts a space before words that follow special tokens.
        expect(text).toMatch(/<\|im_start\|> ?system\s+be brief<\|im_end\|>/);
        expect(text).toMatch(/<\|im_start\|> ?user\s+hello<\|im_end\|>/);
        expect(text.trimEnd()).toMatch(/<\|im_start\|> ?assistant$/);
    });

    it("reuses the KV cache of earlier turns", async () => {
        const messages: ChatMessage[] = [{ role: "user", content: "the cat" }];
        const first = await chat.respond(messages, { maxTokens: 12 });
        const cached = engine.verifier.tokens.length;
        expect(cached).toBeGreaterThan(first.promptTokens);
        messages.push({ role: "assistant", content: first.text }, { role: "user", content: "and the dog" });
        const { tokens } = chat.buildPrompt(messages, 12);
        // The second prompt starts with what the first turn left in the cache.
        const shared = tokens.findIndex((t, i) => engine.verifier.tokens[i] !== t);
        expect(shared).toBeGreaterThan(first.promptTokens - 2);
        const second = await chat.respond(messages, { maxTokens: 12, strategies: ["ngram"] });
        expect(second.tokens.length).toBeGreaterThan(0);
    });

    it("drops the oldest turns instead of failing when the context overflows", async () => {
        const long = "the cat and the dog went to the park ".repeat(12);
        const messages: ChatMessage[] = [{ role: "system", content: "be brief" }];
        for (let i = 0; i < 6; i++) messages.push({ role: "user", content: long }, { role: "assistant", content: long });
        messages.push({ role: "user", content: "last question" });
        const result = await chat.respond(messages, { maxTokens: 32 });
        expect(result.droppedMessages).toBeGreaterThan(0);
        expect(result.promptTokens + 32).toBeLessThan(512);
        const { tokens } = chat.buildPrompt(messages, 32);
        const text = engine.model.detokenize(tokens, true);
        expect(text).toContain("be brief");
        expect(text).toContain("last question");
    });

    it("refuses a single message larger than the context with a clear error", () => {
        expect(() => chat.buildPrompt([{ role: "user", content: "cat ".repeat(2000) }], 16)).toThrow(/context holds 512/);
    });
});

describeWithStories("chat on stories260K", (modelPath) => {
    it("answers identically with and without guessing, and stops at the end-of-turn", async () => {
        const engine = await PresageEngine.load({ modelPath, threads: 1 });
        try {
            const chat = new ChatSession(engine);
            const messages: ChatMessage[] = [{ role: "user", content: "Tell me a story about a cat." }];
            const plain = await chat.respond(messages, { maxTokens: 200 });
            const fast = await chat.respond(messages, { maxTokens: 200, strategies: ["auto"] });
            expect(fast.tokens).toEqual(plain.tokens);
            expect(fast.text).toBe(plain.text);
        } finally {
            await engine.dispose();
        }
    });
});
