import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Template } from "@huggingface/jinja";
import type { Token } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { StepEvent } from "../decoding/stats.ts";
import { PresageEngine } from "../engine/presage-engine.ts";
import { readGgufFile } from "../gguf/gguf-reader.ts";
import { realVocabularyPath } from "../testing/real-vocabularies.ts";
import { qwen3StyleTemplate, qwen3StyleVocabularyPath, qwen3ThinkTokens, synthesizeFavouringModel } from "../testing/thinking-models.ts";
import { ChatSession, type ChatMessage } from "./chat-session.ts";
import { ReasoningSplitter, ReasoningTemplate } from "./reasoning.ts";

const work = mkdtempSync(join(tmpdir(), "presage-reasoning-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const think = { open: "<think>", close: "</think>" };

/** Feeds `pieces` one by one and returns the streamed parts joined, and the splitter. */
function stream(splitter: ReasoningSplitter, pieces: readonly string[]) {
    let reasoning = "", answer = "";
    for (const piece of [...pieces.map((p) => splitter.push(p)), splitter.finish()]) {
        reasoning += piece.reasoning;
        answer += piece.answer;
    }
    return { reasoning, answer };
}

describe("ReasoningSplitter", () => {
    const raw = "<think>\nweigh a and b\n</think>\n\nThe answer is b.";

    it("splits at every cut of the text into two pieces, markers split across them included", () => {
        for (let cut = 0; cut <= raw.length; cut++) {
            const splitter = new ReasoningSplitter(think, false);
            const streamed = stream(splitter, [raw.slice(0, cut), raw.slice(cut)]);
            expect(splitter.reasoning, `cut ${cut}`).toBe("weigh a and b");
            expect(splitter.answer, `cut ${cut}`).toBe("The answer is b.");
            expect(streamed.reasoning.trim()).toBe("weigh a and b");
            expect(streamed.answer).toBe("The answer is b.");
            expect(splitter.closedAt).toBe(raw.indexOf("</think>") + "</think>".length);
        }
    });

    it("streams character by character without ever showing part of a marker", () => {
        const splitter = new ReasoningSplitter(think, false);
        const seen: string[] = [];
        for (const ch of raw) {
            const d = splitter.push(ch);
            seen.push(d.reasoning, d.answer);
        }
        seen.push(splitter.finish().answer);
        expect(seen.join("")).not.toMatch(/<|>/);
    });

    it("starts inside the block when the prompt opened it", () => {
        const splitter = new ReasoningSplitter(think, true);
        stream(splitter, ["weigh", " it</th", "ink>ok"]);
        expect([splitter.reasoning, splitter.answer]).toEqual(["weigh it", "ok"]);
    });

    it("keeps a block that never closed as reasoning, and text before an opening marker as answer", () => {
        const open = new ReasoningSplitter(think, true);
        stream(open, ["still thinking when the budget ran out"]);
        expect([open.reasoning, open.answer, open.closedAt, open.hadReasoning]).toEqual(["still thinking when the budget ran out", "", -1, true]);
        const late = new ReasoningSplitter(think, false);
        stream(late, ["Sure. <think>not a block</think> done"]);
        expect([late.reasoning, late.answer, late.hadReasoning]).toEqual(["", "Sure. <think>not a block</think> done", false]);
    });

    it("drops a channel's name (Gemma 4's `<|channel>thought`) from its reasoning", () => {
        const splitter = new ReasoningSplitter({ open: "<|channel>", close: "<channel|>", label: "thought" }, false);
        stream(splitter, ["<|channel>th", "ought\nplan<chan", "nel|>Hi"]);
        expect([splitter.reasoning, splitter.answer]).toEqual(["plan", "Hi"]);
    });
});

describe("ReasoningTemplate: the template's own rules, by rendering it", () => {
    it("reads a Qwen3-style template: opened when on, an empty block when off, switchable", () => {
        const t = ReasoningTemplate.from(qwen3StyleTemplate)!;
        expect(t.markers).toEqual(think);
        expect(t.switchable).toBe(true);
        expect(t.generationTail(undefined)).toBe("<|im_start|>assistant\n<think>\n");
        expect(t.generationTail(false)).toBe("<|im_start|>assistant\n<think>\n\n</think>\n\n");
        expect([t.opensInPrompt(undefined), t.thinks(undefined), t.opensInPrompt(false), t.thinks(false)]).toEqual([true, true, false, false]);
    });

    it("reads Gemma 4's real template: thinking off by default (an empty thought channel), on with enable_thinking", async () => {
        const file = await readGgufFile(realVocabularyPath("gemma-4"));
        const t = ReasoningTemplate.from(file.metadata["tokenizer.chat_template"]!.value as string)!;
        expect(t.markers.open).toBe("<|channel>");
        expect(t.switchable).toBe(true);
        expect(t.generationTail(undefined)).toBe("<|turn>model\n<|channel>thought\n<channel|>");
        expect(t.thinks(undefined)).toBe(false);
        expect(t.generationTail(true)).toBe("<|turn>model\n");
        expect([t.thinks(true), t.opensInPrompt(true)]).toEqual([true, false]);
    });

    it("finds none in a template without a reasoning part, or one that does not render", () => {
        expect(ReasoningTemplate.from("{% for m in messages %}{{ m.content }}{% endfor %}")).toBeNull();
        expect(ReasoningTemplate.from("<think></think>{% for m in messages %")).toBeNull();
        expect(ReasoningTemplate.from(undefined)).toBeNull();
    });
});

/** The chat template rendered by Jinja itself, as llama.cpp and Hugging Face render it. */
function renderTemplate(source: string, messages: readonly ChatMessage[], reasoning: ReasoningTemplate, vars: Record<string, unknown>): string {
    return new Template(source).render({
        messages: messages.map((m) => ({ role: m.role, content: m.role === "assistant" ? reasoning.rawAnswer(m.content, m.reasoning) : m.content })),
        add_generation_prompt: true,
        ...vars
    });
}

describe("a thinking model in llama.cpp: Qwen3-style template and vocabulary, a model that draws </think> now and then", () => {
    let engine: PresageEngine;
    let chat: ChatSession;
    beforeAll(async () => {
        const out = join(work, "qwen3-style.gguf");
        await synthesizeFavouringModel({ out, vocabularyFrom: await qwen3StyleVocabularyPath(), layers: 1, seed: 1 }, { [qwen3ThinkTokens.close]: 3 });
        engine = await PresageEngine.load({ modelPath: out, threads: 1, contextSize: 512 });
        chat = new ChatSession(engine);
    }, 120_000);
    afterAll(() => engine?.dispose());

    const question: ChatMessage[] = [{ role: "system", content: "Be brief." }, { role: "user", content: "Which is larger, 9.11 or 9.9?" }];

    it("answers with the reasoning apart, streamed as reasoning then answer, counted in tokens", async () => {
        const steps: StepEvent[] = [];
        const result = await chat.respond(question, { maxTokens: 40, onStep: (e) => steps.push(e) });
        // The split, checked on the raw tokens: the prompt opened <think>, the model drew </think>.
        const close = result.tokens.indexOf(qwen3ThinkTokens.close as Token);
        expect(close).toBeGreaterThan(0);
        const text = (tokens: Token[]) => engine.model.detokenize(tokens).trim();
        expect(result.reasoning).toMatchObject({ text: text(result.tokens.slice(0, close)), tokens: close + 1, ended: true });
        expect(result.reasoning!.text.length).toBeGreaterThan(0);
        expect(result.text).toBe(text(result.tokens.slice(close + 1)));
        expect(result.text.length).toBeGreaterThan(0);
        expect(result.reasoning!.ms).toBeGreaterThan(0);
        expect(result.reasoning!.ms).toBeLessThanOrEqual(result.stats.seconds * 1000);
        // Streamed: the reasoning steps then the answer's; the text stream never shows a marker.
        expect(steps.map((s) => s.reasoning ?? "").join("").trim()).toBe(result.reasoning!.text);
        expect(steps.map((s) => s.text).join("").trim()).toBe(result.text);
        // The closing marker is in neither part (later </think>s are the answer's own text).
        expect(steps.map((s) => s.reasoning ?? "").join("")).not.toContain("</think>");
        expect(steps.map((s) => s.text).join("").startsWith(result.text.slice(0, 8))).toBe(true);
        const firstAnswer = steps.findIndex((s) => s.text !== "");
        expect(steps.slice(firstAnswer + 1).every((s) => s.reasoning == null)).toBe(true);
    });

    it("keeps an answer stopped while thinking as reasoning that did not end, every token counted as reasoning", async () => {
        const result = await chat.respond(question, { maxTokens: 6 });
        expect(result.tokens).toHaveLength(6);
        expect(result.tokens).not.toContain(qwen3ThinkTokens.close);
        expect(result.reasoning).toMatchObject({ text: engine.model.detokenize(result.tokens).trim(), tokens: 6, ended: false });
        expect(result.text).toBe("");
    });

    it("builds the prompt the template renders: <think> opened, and an empty block with thinking off", async () => {
        const source = qwen3StyleTemplate;
        for (const thinking of [undefined, false] as const) {
            const { tokens } = await chat.buildPrompt(question, 16, thinking);
            const expected = renderTemplate(source, question, chat.reasoning!, thinking == null ? {} : { enable_thinking: thinking });
            expect(engine.model.detokenize(tokens, true)).toBe(expected);
            expect(tokens).toEqual(engine.model.tokenize(expected, true));
        }
        const off = await chat.respond(question, { maxTokens: 12, thinking: false });
        expect(off.reasoning).toBeNull();
        expect(off.text).toBe(engine.model.detokenize(off.tokens).trim());
    });

    it("drops past reasoning from the next turn's prompt, as the template does", async () => {
        // Short enough that the answer holds no </think> of its own (the template would cut there too).
        const first = await chat.respond(question, { maxTokens: 18 });
        expect(first.reasoning).not.toBeNull();
        expect(first.text).not.toContain("</think>");
        const next: ChatMessage[] = [...question, { role: "assistant", content: first.text, reasoning: first.reasoning!.text }, { role: "user", content: "Why?" }];
        const { tokens } = await chat.buildPrompt(next, 16);
        const expected = renderTemplate(qwen3StyleTemplate, next, chat.reasoning!, {});
        expect(engine.model.detokenize(tokens, true)).toBe(expected);
        expect(expected).not.toContain(first.reasoning!.text);
        expect(expected).toContain(first.text);
    });
});

describe("Gemma 4's real template in llama.cpp (a model that draws its channel tokens now and then)", () => {
    let engine: PresageEngine;
    let chat: ChatSession;
    let source: string;
    beforeAll(async () => {
        const out = join(work, "gemma-4.gguf");
        const vocabulary = realVocabularyPath("gemma-4");
        source = (await readGgufFile(vocabulary)).metadata["tokenizer.chat_template"]!.value as string;
        // <|channel> is 100 and <channel|> 101 in Gemma 4's vocabulary.
        await synthesizeFavouringModel({ out, vocabularyFrom: vocabulary, layers: 1, seed: 2 }, { 100: 8, 101: 3 });
        engine = await PresageEngine.load({ modelPath: out, threads: 1, contextSize: 256 });
        chat = new ChatSession(engine);
    }, 120_000);
    afterAll(() => engine?.dispose());

    const question: ChatMessage[] = [{ role: "user", content: "hello there" }];

    it("thinking off by default: the prompt carries the template's empty thought channel, no <|think|>", async () => {
        const { tokens } = await chat.buildPrompt(question, 16);
        const text = engine.model.detokenize(tokens, true);
        expect(text.endsWith("<|turn>model\n<|channel>thought\n<channel|>")).toBe(true);
        expect(text).not.toContain("<|think|>");
        expect(tokens.slice(-4)).toEqual(engine.model.tokenize("<|channel>thought\n<channel|>", true));
    });

    it("thinking on: <|think|> in the system turn, and the model's own channel block split off", async () => {
        const { tokens } = await chat.buildPrompt(question, 16, true);
        const text = engine.model.detokenize(tokens, true);
        expect(text).toContain("<|turn>system\n<|think|>");
        expect(text.endsWith("<|turn>model\n")).toBe(true);
        const result = await chat.respond(question, { maxTokens: 24, thinking: true });
        expect(result.tokens[0]).toBe(100);
        const close = result.tokens.indexOf(101 as Token);
        expect(close).toBeGreaterThan(1);
        expect(result.reasoning).toMatchObject({ text: engine.model.detokenize(result.tokens.slice(1, close)).trim(), tokens: close + 1, ended: true });
        expect(result.text).toBe(engine.model.detokenize(result.tokens.slice(close + 1)).trim());

        // The next turn: the template's strip_thinking drops the reasoning, and so does the prompt.
        const next: ChatMessage[] = [...question, { role: "assistant", content: result.text, reasoning: result.reasoning!.text }, { role: "user", content: "and?" }];
        const prompt = engine.model.detokenize((await chat.buildPrompt(next, 16, true)).tokens, true);
        expect(prompt).not.toContain(result.reasoning!.text);
        // Token for token what the template renders from the raw answer (its strip_thinking also drops
        // any channel block the answer itself holds).
        const rendered = renderTemplate(source, next, chat.reasoning!, { enable_thinking: true, bos_token: "<bos>" });
        expect(rendered).not.toContain(result.reasoning!.text);
        expect(prompt).toBe(rendered);
    });
});
