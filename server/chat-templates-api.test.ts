import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AnswerEvent, Conversation, ConversationWithMessages, EngineInfo } from "../core/app-api.ts";
import { synthesizeModel } from "../native-models/gguf/synth.ts";
import { failingTemplate, synthesizeSayingModel } from "../native-models/testing/chat-templates.ts";
import { callAppApi } from "./testing/app-api-client.ts";
import { readSseEvents } from "./testing/sse-client.ts";
import { startTestServer, type TestServer } from "./testing/test-server.ts";

/**
 * A model with Qwen2's real vocabulary and template whose weights say one answer and then `<|im_end|>`,
 * through `presage serve`: the end-of-turn token ends the answer and shows nowhere (the OpenAI API,
 * streamed or not, the window's stream, the stored message); a model whose template fails says so in
 * its info.
 */
describe("the model's own end of turn over the APIs (Qwen2's vocabulary and template)", () => {
    const work = mkdtempSync(join(tmpdir(), "presage-chat-templates-api-"));
    const answer = "Four, said the llama 🦙 today.";
    let server: TestServer;
    let client: OpenAI;

    beforeAll(async () => {
        const said = await synthesizeSayingModel({ out: join(work, "qwen2-says.gguf"), vocabulary: "qwen2", answer, endOfTurn: "<|im_end|>" });
        const failing = join(work, "failing-template.gguf");
        await synthesizeModel({ out: failing, chatTemplate: failingTemplate, seed: 4 });
        server = await startTestServer({ modelFiles: [said.out, failing] });
        client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
    }, 120_000);
    afterAll(async () => {
        await server?.dispose();
        rmSync(work, { recursive: true, force: true });
    });

    const messages = [{ role: "system" as const, content: "You are terse." }, { role: "user" as const, content: "What is 2+2?" }];

    it("ends the OpenAI API's answer at <|im_end|>, streamed or not, and never shows it", async () => {
        const whole = await client.chat.completions.create({ model: "qwen2-says", messages, max_tokens: 40, temperature: 0 });
        expect(whole.choices[0]!.message.content).toBe(answer);
        expect(whole.choices[0]!.finish_reason).toBe("stop");
        expect(whole.usage!.completion_tokens).toBeLessThan(40);
        const stream = await client.chat.completions.create({ model: "qwen2-says", messages, max_tokens: 40, temperature: 0, stream: true });
        let content = "";
        for await (const chunk of stream) content += chunk.choices[0]?.delta?.content ?? "";
        expect(content).toBe(answer);
        expect(content).not.toContain("<|im_end|>");
    });

    it("stores the conversation's answer without it, and streams it to the window whole", async () => {
        const state = await callAppApi<{ engine: EngineInfo }>(server, "GET", "/api/state");
        expect(state.body.engine.chatTemplate).toEqual({ name: "the model's template", note: null });
        const created = await callAppApi<Conversation>(server, "POST", "/api/conversations", { title: "t", systemPrompt: "You are terse.", sampling: { temperature: 0 } });
        const res = await fetch(`${server.url}/api/conversations/${created.body.id}/messages`, {
            method: "POST",
            headers: { "x-presage-token": server.token, "content-type": "application/json", accept: "text/event-stream" },
            body: JSON.stringify({ content: "What is 2+2?" })
        });
        const events: AnswerEvent[] = [];
        await readSseEvents(res.body!, (e) => events.push({ type: e.event, ...JSON.parse(e.data) } as AnswerEvent));
        const done = events.find((e) => e.type === "done") as Extract<AnswerEvent, { type: "done" }>;
        expect(done.message.content).toBe(answer);
        const steps = events.flatMap((e) => (e.type === "step" ? [e.step] : []));
        expect(steps.map((s) => s.text).join("")).toBe(answer);
        for (const step of steps) expect(step.text).not.toContain("\uFFFD");
        const stored = await callAppApi<ConversationWithMessages>(server, "GET", `/api/conversations/${created.body.id}`);
        expect(stored.body.messages.at(-1)!.content).toBe(answer);
    });

    it("says in the model's info when its template fails to render, and answers from a plain transcript", async () => {
        const loaded = await callAppApi<EngineInfo>(server, "POST", "/api/models/load", { target: "failing-template.gguf" });
        expect(loaded.status).toBe(200);
        const state = await callAppApi<{ engine: EngineInfo }>(server, "GET", "/api/state");
        expect(state.body.engine.chatTemplate!.name).toBe("plain transcript");
        expect(state.body.engine.chatTemplate!.note).toMatch(/^The chat template of failing-template\.gguf failed to render \(.+\): answering with a plain transcript instead\.$/);
        const res = await client.chat.completions.create({ model: "failing-template", messages, max_tokens: 8, temperature: 0 });
        expect(res.choices[0]!.message.content!.length).toBeGreaterThan(0);
    });
});
