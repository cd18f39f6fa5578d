import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { synthesizeModel } from "../gguf/synth.ts";
import { PresageEngine } from "../engine/presage-engine.ts";
import { describeWithStories } from "../testing/stories.ts";
import { ChatSession, type ChatMessage } from "./chat-session.ts";
import { modelChatWrapper } from "./chat-template.ts";

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

    it("builds prompts with the model's own template", async () => {
        expect(chat.templateName).toBe("the model's template");
        const { tokens } = await chat.buildPrompt([{ role: "system", content: "be brief" }, { role: "user", content: "hello" }], 16);
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
        const { tokens } = await chat.buildPrompt(messages, 12);
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
        const { tokens } = await chat.buildPrompt(messages, 32);
        const text = engine.model.detokenize(tokens, true);
        expect(text).toContain("be brief");
        expect(text).toContain("last question");
    });

    it("refuses a single message larger than the context with a clear error", async () => {
        await expect(chat.buildPrompt([{ role: "user", content: "cat ".repeat(2000) }], 16)).rejects.toThrow(/context holds 512/);
        // Just over: the estimate does not decide it, the rendered prompt does.
        await expect(chat.buildPrompt([{ role: "user", content: "cat ".repeat(540) }], 16)).rejects.toThrow(/is \d+ tokens long but the context holds 512/);
    });

    it("keeps exactly the newest turns that fit, as dropping one turn at a time would", async () => {
        // The straightforward way, re-rendering the whole history after each dropped turn.
        const { wrapper } = modelChatWrapper(engine.model);
        const reference = (messages: ChatMessage[], maxTokens: number) => {
            const system = messages.filter((m) => m.role === "system");
            let turns = messages.filter((m) => m.role !== "system");
            const budget = 512 - Math.min(maxTokens, 256) - 2;
            let dropped = 0;
            for (;;) {
                const history = [...system, ...turns].map((m) => m.role === "system" ? { type: "system" as const, text: m.content }
                    : m.role === "user" ? { type: "user" as const, text: m.content } : { type: "model" as const, response: [m.content] });
                const tokens = wrapper.generateContextState({ chatHistory: [...history, { type: "model", response: [] }] }).contextText.tokenize(engine.model.tokenizer);
                if (tokens.length <= budget || turns.length <= 1) return { tokens, dropped };
                turns = turns.slice(1);
                dropped++;
                while (turns.length > 1 && turns[0]!.role === "assistant") {
                    turns = turns.slice(1);
                    dropped++;
                }
            }
        };
        const words = ["the", "cat", "sat", "on", "a", "mat", "and", "dog", "ran", "far"];
        let seed = 7;
        const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
        for (let round = 0; round < 4; round++) {
            const messages: ChatMessage[] = round % 2 === 0 ? [{ role: "system", content: "be brief" }] : [];
            for (let i = 0; i < 30; i++) {
                const length = 1 + Math.floor(random() ** 3 * 120);
                const text = Array.from({ length }, () => words[Math.floor(random() * words.length)]).join(" ");
                messages.push({ role: i % 2 === 0 ? "user" : "assistant", content: text });
                // Now and then two user messages in a row, so starts are not evenly spaced.
                if (random() < 0.2) messages.push({ role: "user", content: "and then?" });
            }
            messages.push({ role: "user", content: "last" });
            for (const maxTokens of [8, 200]) {
                const expected = reference(messages, maxTokens);
                const built = await new ChatSession(engine).buildPrompt(messages, maxTokens);
                expect({ round, maxTokens, dropped: built.dropped }).toEqual({ round, maxTokens, dropped: expected.dropped });
                expect(built.tokens).toEqual(expected.tokens);
            }
        }
    });

    it("trims a very long history reading only what fits, and remembers message sizes", async () => {
        const messages: ChatMessage[] = [];
        for (let i = 0; i < 4000; i++) messages.push({ role: i % 2 === 0 ? "user" : "assistant", content: `message number ${i} about the cat` });
        messages.push({ role: "user", content: "last" });
        const historyChars = messages.reduce((n, m) => n + m.content.length, 0);
        // Choosing the template tokenizes probes once per session: not part of what is measured.
        const session = new ChatSession(engine);
        let tokenized = 0;
        const model = engine.model as unknown as { tokenize: (...a: unknown[]) => unknown; tokenizer: (...a: unknown[]) => unknown };
        const [tokenize, tokenizer] = [model.tokenize, model.tokenizer];
        model.tokenize = (...a: unknown[]) => ((tokenized += String(a[0]).length), tokenize.apply(engine.model, a));
        model.tokenizer = (...a: unknown[]) => ((tokenized += String(a[0]).length), tokenizer.apply(engine.model, a));
        try {
            const started = performance.now();
            const first = await session.buildPrompt(messages, 32);
            const ms = performance.now() - started;
            expect(first.dropped).toBeGreaterThan(3900);
            expect(first.tokens.length).toBeLessThanOrEqual(512 - 32 - 2);
            // A few renders of one context's worth of text, not the history over and over.
            expect(tokenized).toBeLessThan(historyChars / 4);
            expect(ms).toBeLessThan(2000);
            const before = tokenized;
            messages.push({ role: "assistant", content: "an answer" }, { role: "user", content: "again" });
            await session.buildPrompt(messages, 32);
            // Known messages are not tokenized again: only the new ones and the renders.
            expect(tokenized - before).toBeLessThan(historyChars / 8);
        } finally {
            model.tokenize = tokenize;
            model.tokenizer = tokenizer;
        }
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
