import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AnswerEvent, Conversation, ConversationWithMessages, EngineInfo } from "../core/app-api.ts";
import { qwen3StyleVocabularyPath, qwen3ThinkTokens, synthesizeFavouringModel } from "../native-models/testing/thinking-models.ts";
import { callAppApi } from "./testing/app-api-client.ts";
import { rawRequest } from "./testing/raw-request.ts";
import { readSseEvents } from "./testing/sse-client.ts";
import { startTestServer, type TestServer } from "./testing/test-server.ts";

/**
 * A thinking model through `presage serve`: a Qwen3-style template (it opens `<think>` in the
 * generation prompt) on a synthesized model that draws `</think>` now and then, answered by the real
 * engine in llama.cpp, greedy so that every request here gives the same tokens.
 */
describe("thinking models over the OpenAI API and the app API", () => {
    const work = mkdtempSync(join(tmpdir(), "presage-thinking-api-"));
    let server: TestServer;
    let client: OpenAI;
    const question = "Which is larger, 9.11 or 9.9?";

    beforeAll(async () => {
        const model = join(work, "qwen3-style.gguf");
        await synthesizeFavouringModel({ out: model, vocabularyFrom: await qwen3StyleVocabularyPath(), layers: 1, seed: 1 }, { [qwen3ThinkTokens.close]: 3 });
        server = await startTestServer({ modelFiles: [model] });
        client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
    }, 120_000);
    afterAll(async () => {
        await server?.dispose();
        rmSync(work, { recursive: true, force: true });
    });

    type Reasoned = { reasoning_content?: string; content: string | null };
    const ask = (extra: object = {}) =>
        client.chat.completions.create({ model: "qwen3-style", messages: [{ role: "user", content: question }], max_tokens: 40, temperature: 0, ...extra } as never) as unknown as Promise<
            OpenAI.ChatCompletion & { speculative: { reasoningTokens: number; answerTokens: number; reasoningMs: number } }
        >;

    it("returns reasoning_content beside content, and counts reasoning and answer tokens", async () => {
        const res = await ask();
        const message = res.choices[0]!.message as unknown as Reasoned;
        expect(message.reasoning_content!.length).toBeGreaterThan(0);
        expect(message.content!.length).toBeGreaterThan(0);
        expect(message.content).not.toContain(message.reasoning_content);
        const usage = res.usage as OpenAI.CompletionUsage;
        expect(usage.completion_tokens_details!.reasoning_tokens).toBeGreaterThan(0);
        expect(res.speculative.reasoningTokens).toBe(usage.completion_tokens_details!.reasoning_tokens);
        expect(res.speculative.reasoningTokens + res.speculative.answerTokens).toBe(usage.completion_tokens);
        expect(res.speculative.answerTokens).toBeGreaterThan(0);
        expect(res.speculative.reasoningMs).toBeGreaterThan(0);
    });

    it("streams the reasoning as reasoning_content deltas, then the answer as content", async () => {
        const whole = (await ask()).choices[0]!.message as unknown as Reasoned;
        const stream = await client.chat.completions.create({ model: "qwen3-style", messages: [{ role: "user", content: question }], max_tokens: 40, temperature: 0, stream: true });
        let reasoning = "", content = "", order = "";
        for await (const chunk of stream) {
            const delta = chunk.choices[0]?.delta as (Reasoned & { content?: string }) | undefined;
            if (delta?.reasoning_content) {
                reasoning += delta.reasoning_content;
                if (!order.endsWith("r")) order += "r";
            }
            if (delta?.content) {
                content += delta.content;
                if (!order.endsWith("a")) order += "a";
            }
        }
        expect(order).toBe("ra");
        expect(reasoning).toBe(whole.reasoning_content);
        expect(content).toBe(whole.content);
    });

    it("turns thinking off with chat_template_kwargs.enable_thinking = false, and refuses a value that is not true or false", async () => {
        const off = await ask({ chat_template_kwargs: { enable_thinking: false } });
        const message = off.choices[0]!.message as unknown as Reasoned;
        expect(message.reasoning_content).toBeUndefined();
        expect(off.usage!.completion_tokens_details).toBeUndefined();
        const bad = await rawRequest(`${server.url}/v1/chat/completions`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ messages: [{ role: "user", content: "hi" }], chat_template_kwargs: { enable_thinking: "no" } })
        });
        expect(bad.status).toBe(400);
        const error = (JSON.parse(bad.body) as { error: { message: string } }).error.message;
        expect(error).toContain("enable_thinking");
        expect(error).not.toContain("\n");
    });

    it("in a conversation: stores the answer without its reasoning, keeps the reasoning apart, and follows the conversation's switch", async () => {
        // The model's info says it thinks by default and can switch (its template reads enable_thinking).
        const state = await callAppApi<{ engine: EngineInfo }>(server, "GET", "/api/state");
        expect(state.body.engine.thinking).toEqual({ switchable: true, defaultOn: true });
        const created = await callAppApi<Conversation>(server, "POST", "/api/conversations", { title: "t" });
        expect(created.body.thinking).toBeNull();
        const id = created.body.id;
        const send = async (content: string) => {
            const res = await fetch(`${server.url}/api/conversations/${id}/messages`, {
                method: "POST",
                headers: { "x-presage-token": server.token, "content-type": "application/json", accept: "text/event-stream" },
                body: JSON.stringify({ content })
            });
            const events: AnswerEvent[] = [];
            await readSseEvents(res.body!, (e) => events.push({ type: e.event, ...JSON.parse(e.data) } as AnswerEvent));
            return events;
        };
        const events = await send(question);
        const done = events.find((e) => e.type === "done") as Extract<AnswerEvent, { type: "done" }>;
        const steps = events.flatMap((e) => (e.type === "step" ? [e.step] : []));
        expect(done.message.reasoning!.text.length).toBeGreaterThan(0);
        expect(done.message.reasoning!.tokens).toBeGreaterThan(0);
        expect(steps.map((s) => s.reasoning ?? "").join("").trim()).toBe(done.message.reasoning!.text);
        expect(steps.map((s) => s.text).join("").trim()).toBe(done.message.content);

        // What the history drafter and search read is the stored content: the answer alone.
        const row = server.services.datastore.conversations.messages(Number(id)).find((m) => m.role === "assistant")!;
        expect(row.content).toBe(done.message.content);
        expect(row.content).not.toContain(done.message.reasoning!.text);
        expect((await callAppApi<Conversation[]>(server, "GET", `/api/conversations?search=${encodeURIComponent(done.message.reasoning!.text.slice(0, 12))}`)).body).toEqual([]);
        const stored = await callAppApi<ConversationWithMessages>(server, "GET", `/api/conversations/${id}`);
        expect(stored.body.messages.at(-1)!.reasoning).toEqual(done.message.reasoning);

        // The switch, stored with the conversation: thinking off, the next answer has no reasoning.
        const patched = await callAppApi<Conversation>(server, "PATCH", `/api/conversations/${id}`, { thinking: false });
        expect(patched.body.thinking).toBe(false);
        expect((await callAppApi<ConversationWithMessages>(server, "GET", `/api/conversations/${id}`)).body.conversation.thinking).toBe(false);
        const next = (await send("Why?")).find((e) => e.type === "done") as Extract<AnswerEvent, { type: "done" }>;
        expect(next.message.reasoning ?? null).toBeNull();
        expect((await callAppApi(server, "PATCH", `/api/conversations/${id}`, { thinking: "off" })).status).toBe(400);
        expect((await callAppApi<Conversation>(server, "PATCH", `/api/conversations/${id}`, { thinking: null })).body.thinking).toBeNull();
    });
});
