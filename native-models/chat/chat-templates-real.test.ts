import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Template } from "@huggingface/jinja";
import { GeneralChatWrapper, resolveChatWrapper, type Token } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { StepEvent } from "../decoding/stats.ts";
import { PresageEngine } from "../engine/presage-engine.ts";
import { synthesizeModel } from "../gguf/synth.ts";
import { failingTemplate, llama3StyleTemplate, noSystemTemplate, synthesizeSayingModel } from "../testing/chat-templates.ts";
import type { RealVocabularyName } from "../testing/real-vocabularies.ts";
import { ChatSession, type ChatMessage } from "./chat-session.ts";

const work = mkdtempSync(join(tmpdir(), "presage-chat-templates-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** What every model below says: a character spelled over several byte tokens (🦙) in every one of these vocabularies. */
const answer = "Four, said the llama 🦙 today.";
/** Spans two pieces of the answer in every vocabulary here (" said" | " the"). */
const splitStop = "id th";

const conversation: ChatMessage[] = [
    { role: "system", content: "You are terse." },
    { role: "user", content: "Hello there, how are you?" },
    // Padded: templates that trim message texts (Gemma 4's, Llama 3's) must be seen doing it.
    { role: "assistant", content: " Fine, thanks. " },
    { role: "user", content: "What is 2+2? ünïcödé 你好" }
];

interface Case {
    vocabulary: RealVocabularyName;
    /** The template to write into the model (llama-bpe's file has none). */
    chatTemplate?: string;
    /** The model's own end of turn. */
    endOfTurn: string;
}

const cases: Case[] = [
    { vocabulary: "qwen2", endOfTurn: "<|im_end|>" },
    { vocabulary: "qwen35", endOfTurn: "<|im_end|>" },
    { vocabulary: "gemma-4", endOfTurn: "<turn|>" },
    { vocabulary: "phi-3", endOfTurn: "<|end|>" },
    { vocabulary: "llama-bpe", chatTemplate: llama3StyleTemplate, endOfTurn: "<|eot_id|>" }
];

describe.each(cases)("chat with the $vocabulary vocabulary's template, in llama.cpp", ({ vocabulary, chatTemplate, endOfTurn }) => {
    let engine: PresageEngine;
    let chat: ChatSession;
    let source: string;
    let answerTokens: Token[];

    /** The template rendered by Jinja itself and tokenized with special tokens: as llama.cpp's server and Hugging Face do. */
    const reference = (messages: readonly ChatMessage[]) => {
        const model = engine.model;
        const piece = (t: Token | null) => (t == null ? "" : model.detokenize([t], true));
        const text = new Template(source).render({
            messages: messages.map((m) => ({ role: m.role, content: m.content })),
            bos_token: piece(model.tokens.bos),
            eos_token: piece(model.tokens.eos),
            add_generation_prompt: true
        });
        return model.tokenize(text, true);
    };

    beforeAll(async () => {
        // The model says the answer after its generation prompt, then ends its turn: a bigram in its weights.
        const said = await synthesizeSayingModel({ out: join(work, `${vocabulary}.gguf`), vocabulary, chatTemplate, answer, endOfTurn });
        source = said.template;
        answerTokens = said.answerTokens;
        engine = await PresageEngine.load({ modelPath: said.out, threads: 1, contextSize: 512, calibrate: false });
        chat = new ChatSession(engine);
    }, 120_000);
    afterAll(() => engine?.dispose());

    it("builds the prompt of a multi-turn conversation with a system prompt token for token as the template renders it", async () => {
        expect(chat.template).toEqual({ name: "the model's template", note: null });
        for (const messages of [conversation, conversation.slice(1)]) {
            const { tokens } = await chat.buildPrompt(messages, 16);
            expect(tokens).toEqual(reference(messages));
        }
        // node-llama-cpp's own choice of wrapper renders other tokens for this conversation (a BOS Qwen's template
        // never writes, Phi-3's dropped system prompt folded into the first turn, untrimmed texts): why Presage renders the template.
        const wrapper = resolveChatWrapper(engine.model);
        const history = [
            ...conversation.map((m) => (m.role === "system" ? { type: "system" as const, text: m.content } : m.role === "user" ? { type: "user" as const, text: m.content } : { type: "model" as const, response: [m.content] })),
            { type: "model" as const, response: [] }
        ];
        const theirs = wrapper.generateContextState({ chatHistory: history }).contextText.tokenize(engine.model.tokenizer);
        expect(theirs).not.toEqual(reference(conversation));
    });

    it("keeps the system prompt and drops the oldest turns when the conversation outgrows the context, still as the template renders it", async () => {
        const long = "the cat and the dog went to the park and back again ".repeat(6);
        const messages: ChatMessage[] = [conversation[0]!];
        for (let i = 0; i < 8; i++) messages.push({ role: "user", content: `${i}: ${long}` }, { role: "assistant", content: long });
        messages.push({ role: "user", content: "last question" });
        const built = await chat.buildPrompt(messages, 64);
        expect(built.dropped).toBeGreaterThan(0);
        expect(built.tokens.length).toBeLessThanOrEqual(512 - 64 - 2);
        expect(built.tokens).toEqual(reference([messages[0]!, ...messages.slice(1 + built.dropped)]));
    });

    it("ends the answer at the model's own end-of-turn token and never shows it", async () => {
        const steps: StepEvent[] = [];
        const result = await chat.respond(conversation, { maxTokens: 40, onStep: (e) => steps.push(e) });
        expect(result.stopReason).toBe("eog");
        expect(result.tokens).toEqual(answerTokens);
        expect(result.text).toBe(answer);
        const streamed = steps.map((s) => s.text).join("");
        expect(streamed.trim()).toBe(answer);
        for (const text of [result.text, streamed]) expect(text).not.toContain(endOfTurn);
        // Half a character never reaches the stream.
        for (const step of steps) expect(step.text).not.toContain("\uFFFD");
    });

    it("colours tokens by source in whole characters: the pieces of a character spelled over several tokens go to the token that completes it", async () => {
        // The answer is in the conversation already, so the n-gram drafter guesses it and the target accepts.
        const messages: ChatMessage[] = [...conversation.slice(0, 2), { role: "assistant", content: answer }, { role: "user", content: "Again?" }];
        const plain = await chat.respond(messages, { maxTokens: 40 });
        const steps: StepEvent[] = [];
        const fast = await chat.respond(messages, { maxTokens: 40, strategies: ["ngram"], onStep: (e) => steps.push(e) });
        expect(fast.tokens).toEqual(plain.tokens);
        expect(fast.text).toBe(answer);
        const coloured = steps.filter((s) => s.pieces != null);
        expect(coloured.length).toBeGreaterThan(0);
        for (const step of coloured) {
            expect(step.pieces).toHaveLength(step.tokens.length);
            expect(step.pieces!.join("")).toBe(step.text);
            for (const piece of step.pieces!) expect(piece).not.toContain("\uFFFD");
        }
        // The llama arrives whole in one piece (its byte tokens before it have empty pieces).
        expect(coloured.some((s) => s.pieces!.some((p) => p.includes("🦙")))).toBe(true);
        expect(steps.map((s) => s.text).join("").trim()).toBe(answer);
    });

    it("stops at a stop string split across two pieces, with the text before it exact", async () => {
        const steps: StepEvent[] = [];
        const result = await chat.respond(conversation, { maxTokens: 40, stopStrings: [splitStop], onStep: (e) => steps.push(e) });
        expect(result.stopReason).toBe("stop");
        expect(result.text).toBe(answer.slice(0, answer.indexOf(splitStop)));
        expect(steps.map((s) => s.text).join("").trim()).toBe(result.text);
    });
});

describe("an end of turn spelled out in ordinary pieces (Gemma 4's vocabulary and template)", () => {
    it("stops there too, and shows none of it", async () => {
        // "<turn|>" as text is ordinary pieces, not the special token. (Qwen's "<|im_end|>" spells "|" twice,
        // which a bigram cannot follow two ways.)
        const said = await synthesizeSayingModel({ out: join(work, "gemma-4-spelled.gguf"), vocabulary: "gemma-4", answer: "Hi there<turn|>more", endOfTurn: "<turn|>" });
        const engine = await PresageEngine.load({ modelPath: said.out, threads: 1, contextSize: 256, calibrate: false });
        try {
            expect(said.answerTokens.length).toBeGreaterThan(4);
            const steps: StepEvent[] = [];
            const result = await new ChatSession(engine).respond([{ role: "user", content: "hello" }], { maxTokens: 20, onStep: (e) => steps.push(e) });
            expect(result.stopReason).toBe("stop");
            expect(result.text).toBe("Hi there");
            expect(steps.map((s) => s.text).join("")).toBe("Hi there");
        } finally {
            await engine.dispose();
        }
    }, 60_000);
});

describe("a chat template that fails to render (our own small vocabulary)", () => {
    it("falls back to a plain transcript for every prompt, and says so in one line naming the model", async () => {
        const out = join(work, "failing-template.gguf");
        await synthesizeModel({ out, chatTemplate: failingTemplate, seed: 4 });
        const engine = await PresageEngine.load({ modelPath: out, threads: 1, contextSize: 256, calibrate: false });
        const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
        try {
            const chat = new ChatSession(engine);
            expect(chat.template.name).toBe("plain transcript");
            expect(chat.template.note).toMatch(/^The chat template of failing-template\.gguf failed to render \(Cannot call something that is not a function[^)]*\): answering with a plain transcript instead\.$/);
            expect(warn.mock.calls.map((c) => String(c[0]))).toEqual([`presage: ${chat.template.note}`]);
            const messages: ChatMessage[] = [{ role: "system", content: "be brief" }, { role: "user", content: "hello" }];
            const { tokens } = await chat.buildPrompt(messages, 16);
            const general = new GeneralChatWrapper().generateContextState({
                chatHistory: [{ type: "system", text: "be brief" }, { type: "user", text: "hello" }, { type: "model", response: [] }]
            });
            expect(tokens).toEqual(general.contextText.tokenize(engine.model.tokenizer));
            const result = await chat.respond(messages, { maxTokens: 8 });
            expect(result.tokens.length).toBeGreaterThan(0);
        } finally {
            warn.mockRestore();
            await engine.dispose();
        }
    });

    it("renders the conversations a template accepts, and one it refuses (a system prompt) as a plain transcript, told once", async () => {
        const out = join(work, "no-system-template.gguf");
        await synthesizeModel({ out, chatTemplate: noSystemTemplate, seed: 4 });
        const engine = await PresageEngine.load({ modelPath: out, threads: 1, contextSize: 256, calibrate: false });
        const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
        try {
            const chat = new ChatSession(engine);
            expect(chat.template.note).toBeNull();
            const user: ChatMessage[] = [{ role: "user", content: "hello" }];
            const rendered = new Template(noSystemTemplate).render({ messages: user, add_generation_prompt: true });
            // Our vocabulary adds BOS and this template does not write it: llama.cpp's server puts one before it.
            expect((await chat.buildPrompt(user, 16)).tokens).toEqual([engine.model.tokens.bos!, ...engine.model.tokenize(rendered, true)]);
            expect(warn).not.toHaveBeenCalled();
            const withSystem: ChatMessage[] = [{ role: "system", content: "be brief" }, ...user];
            const built = await chat.buildPrompt(withSystem, 16);
            expect(engine.model.detokenize(built.tokens, true)).toContain("be brief");
            expect(engine.model.detokenize(built.tokens, true)).not.toContain("<|im_start|>");
            await chat.respond(withSystem, { maxTokens: 4 });
            const lines = warn.mock.calls.map((c) => String(c[0]));
            expect(lines).toHaveLength(1);
            expect(lines[0]).toMatch(/^presage: The chat template of no-system-template\.gguf failed to render \(System role not supported\): answering with a plain transcript instead\.$/);
        } finally {
            warn.mockRestore();
            await engine.dispose();
        }
    });
});
