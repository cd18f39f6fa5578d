import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it, onTestFinished } from "vitest";
import { synthesizeModel } from "../native-models/gguf/synth.ts";
import { describeWithStories } from "../native-models/testing/stories.ts";
import type { AnswerEvent, AppEvent, ConversationWithMessages, DocumentsResponse, EngineInfo, ModelsResponse, RaceResponse, Settings } from "../core/app-api.ts";
import { readSseEvents } from "./testing/sse-client.ts";
import { startTestServer, type TestServer } from "./testing/test-server.ts";

describeWithStories("the app API over HTTP", (storiesPath) => {
    let server: TestServer;

    // A fresh server (services, datastore, models folder) for each test: what one answer teaches the
    // engine (hypothesis reduction's per-source acceptance, the history source) must not decide the next
    // test, so each holds whatever order the tests run in.
    beforeEach(async () => {
        server = await startTestServer({ modelFiles: [storiesPath] });
    });
    afterEach(() => server?.dispose());

    /** Short answers, for the tests that only need an answer, not a long one. */
    const shortAnswers = () => api("PUT", "/api/settings", { sampling: { maxTokens: 24 } });

    async function api<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T }> {
        const res = await fetch(server.url + path, {
            method,
            headers: { "x-presage-token": server.token, ...(body === undefined ? {} : { "content-type": "application/json" }), ...headers },
            body: body === undefined ? undefined : JSON.stringify(body)
        });
        const text = await res.text();
        return { status: res.status, body: (text === "" ? undefined : JSON.parse(text)) as T };
    }

    async function send(conversationId: string, body: unknown, onEvent?: (e: AnswerEvent) => void, signal?: AbortSignal): Promise<AnswerEvent[]> {
        const res = await fetch(`${server.url}/api/conversations/${conversationId}/messages`, {
            method: "POST",
            headers: { "x-presage-token": server.token, "content-type": "application/json", accept: "text/event-stream" },
            body: JSON.stringify(body),
            signal
        });
        expect(res.status).toBe(200);
        expect(res.headers.get("content-type")).toMatch(/text\/event-stream/);
        const events: AnswerEvent[] = [];
        await readSseEvents(res.body!, (e) => {
            const event = { type: e.event, ...JSON.parse(e.data) } as AnswerEvent;
            events.push(event);
            onEvent?.(event);
        }).catch((err) => {
            if (!signal?.aborted) throw err;
        });
        return events;
    }

    it("needs the per-run token", async () => {
        expect((await api("GET", "/api/state", undefined, { "x-presage-token": "" })).status).toBe(401);
        expect((await api("GET", "/api/state", undefined, { "x-presage-token": "wrong" })).status).toBe(401);
        const state = await api<{ version: string; engine: EngineInfo }>("GET", "/api/state");
        expect(state.status).toBe(200);
        expect(state.body.engine.modelPath).toMatch(/stories260K\.gguf$/);
        expect(state.body.engine.available).toContain("ngram");
    });

    it("drafts from past answers once the datastore is plugged in", async () => {
        const state = await api<{ engine: EngineInfo }>("GET", "/api/state");
        expect(state.body.engine.available).toEqual(expect.arrayContaining(["retrieval", "history"]));
        // Greedy in these conversations (chat samples at 0.8 by default).
        const first = (await api<{ id: string }>("POST", "/api/conversations", { sampling: { temperature: 0 } })).body.id;
        const plain = (await send(first, { content: "Once upon a time", strategies: ["none"] })).at(-1)!;
        const second = (await api<{ id: string }>("POST", "/api/conversations", { sampling: { temperature: 0 } })).body.id;
        const guessed = (await send(second, { content: "Once upon a time", strategies: ["history"] })).at(-1)!;
        if (plain.type !== "done" || guessed.type !== "done") throw new Error("no answer");
        // Greedy: the same answer again, now mostly guessed from the first one.
        expect(guessed.message.content).toBe(plain.message.content);
        expect(guessed.message.stats!.bySource.history!.accepted).toBeGreaterThan(0);
    });

    it("serves the window with the token in it and a strict CSP, and nothing outside it", async () => {
        const page = await fetch(server.url + "/");
        expect(page.headers.get("content-security-policy")).toMatch(/default-src 'self'/);
        expect(page.headers.get("content-security-policy")).toMatch(/frame-ancestors 'none'/);
        const html = await page.text();
        if (html.includes("presage-token")) expect(html).toContain(`<meta name="presage-token" content="${server.token}">`);
        else expect(html).toMatch(/npm run build:renderer/);
        expect((await fetch(server.url + "/%2e%2e/%2e%2e/package.json")).status).toBe(404);
        expect((await fetch(server.url + "/assets/missing-file.js")).status).toBe(404);
    });

    it("validates and persists settings, and announces them on /api/events", async () => {
        const controller = new AbortController();
        const res = await fetch(server.url + "/api/events", { headers: { "x-presage-token": server.token }, signal: controller.signal });
        const seen: AppEvent[] = [];
        const reading = readSseEvents(res.body!, (e) => seen.push({ type: e.event, ...JSON.parse(e.data) } as AppEvent)).catch(() => undefined);
        const bad = await api<{ error: { message: string; code: string } }>("PUT", "/api/settings", { sampling: { temperature: "hot" } });
        expect(bad.status).toBe(400);
        expect(bad.body.error.code).toBe("invalid-request");
        expect(bad.body.error.message).toMatch(/sampling\.temperature/);
        const ok = await api<Settings>("PUT", "/api/settings", { sampling: { maxTokens: 24 }, maxDraft: 4 });
        expect(ok.body.sampling.maxTokens).toBe(24);
        expect(ok.body.sampling.topK).toBe(40);
        expect(ok.body.maxDraft).toBe(4);
        await expect.poll(() => seen.some((e) => e.type === "settings" && e.settings.maxDraft === 4)).toBe(true);
        controller.abort();
        await reading;
        expect(server.services.datastore.settings.getJson("app.settings")).toMatchObject({ maxDraft: 4 });
    });

    it("answers in a conversation, streams steps, keeps stats, regenerates, edits, searches and deletes", async () => {
        await shortAnswers();
        const created = await api<{ id: string; title: string }>("POST", "/api/conversations", { systemPrompt: "You tell stories." });
        expect(created.status).toBe(201);
        const id = created.body.id;
        const events = await send(id, { content: "Once upon a time there was a dog", strategies: ["ngram"] });
        expect(events[0]!.type).toBe("start");
        const done = events.at(-1)!;
        if (done.type !== "done") throw new Error(JSON.stringify(done));
        const steps = events.filter((e) => e.type === "step");
        expect(steps.length).toBeGreaterThan(0);
        expect(done.message.role).toBe("assistant");
        expect(done.message.stats!.tokens).toBe(steps.reduce((n, e) => n + (e.type === "step" ? e.step.tokens.length : 0), 0));
        expect(done.message.strategies).toEqual(["ngram"]);

        let conv = (await api<ConversationWithMessages>("GET", `/api/conversations/${id}`)).body;
        expect(conv.conversation.title).toBe("Once upon a time there was a dog");
        expect(conv.messages.map((m) => m.role)).toEqual(["user", "assistant"]);
        expect(conv.messages[1]!.steps!.length).toBe(steps.length);

        const again = await send(id, { regenerate: true });
        expect(again.at(-1)!.type).toBe("done");
        conv = (await api<ConversationWithMessages>("GET", `/api/conversations/${id}`)).body;
        expect(conv.messages.map((m) => m.role)).toEqual(["user", "assistant"]);

        const edited = await send(id, { content: "A cat sat", editMessageId: conv.messages[0]!.id });
        expect(edited.at(-1)!.type).toBe("done");
        conv = (await api<ConversationWithMessages>("GET", `/api/conversations/${id}`)).body;
        expect(conv.messages.map((m) => m.content)[0]).toBe("A cat sat");
        expect(conv.messages).toHaveLength(2);

        expect((await api<unknown[]>("GET", "/api/conversations?search=CAT%20sat")).body).toHaveLength(1);
        expect((await api<unknown[]>("GET", "/api/conversations?search=zebra")).body).toHaveLength(0);
        const renamed = await api<{ title: string }>("PATCH", `/api/conversations/${id}`, { title: "Cats" });
        expect(renamed.body.title).toBe("Cats");
        expect((await api("PATCH", `/api/conversations/${id}`, { title: 7 })).status).toBe(400);
        expect((await api("DELETE", `/api/conversations/${id}`)).status).toBe(204);
        expect((await api("GET", `/api/conversations/${id}`)).status).toBe(404);
        expect((await api("POST", `/api/conversations/${id}/messages`, { content: "hi" })).status).toBe(404);
        expect((await api("POST", "/api/conversations/nope/messages", { nothing: true })).status).toBe(400);
    });

    it("stops an answer on request and when the stream closes, keeping what was generated", async () => {
        await api("PUT", "/api/settings", { sampling: { maxTokens: 1500 } });
        const id = (await api<{ id: string }>("POST", "/api/conversations", {})).body.id;
        let generationId = "";
        let stopped = false;
        const events = await send(id, { content: "Once upon a time", strategies: ["none"] }, (e) => {
            if (e.type === "start") generationId = e.generationId;
            if (e.type === "step" && !stopped) {
                stopped = true;
                void api("POST", `/api/generations/${generationId}/stop`);
            }
        });
        const done = events.at(-1)!;
        if (done.type !== "done") throw new Error(JSON.stringify(done));
        expect(done.stopReason).toBe("abort");
        expect(done.message.stats!.tokens).toBeLessThan(1500);

        const controller = new AbortController();
        const finished = new Promise((resolve) => server.services.generation.once("finished", resolve));
        await send(id, { content: "And then", strategies: ["none"] }, (e) => {
            if (e.type === "step") controller.abort();
        }, controller.signal);
        expect(await finished).toMatchObject({ stopReason: "abort" });
        await expect.poll(async () => (await api<ConversationWithMessages>("GET", `/api/conversations/${id}`)).body.messages.length).toBe(4);
    });

    it("races plain decoding against the strategies with identical greedy output", async () => {
        const res = await api<RaceResponse>("POST", "/api/race", { prompt: "Once upon a time", strategies: ["ngram"], maxTokens: 32 });
        expect(res.status).toBe(200);
        expect(res.body.identical).toBe(true);
        expect(res.body.plain.text).toBe(res.body.speculative.text);
        expect(res.body.speedup).toBeGreaterThan(0);
    });

    it("lists models, checks drafts and refuses a draft with another vocabulary", async () => {
        await synthesizeModel({ out: join(server.modelsDir, "other-vocab.gguf"), seed: 3 });
        await shortAnswers();
        const models = await api<ModelsResponse>("GET", "/api/models");
        expect(models.body.files.map((f) => f.name).sort()).toEqual(["other-vocab.gguf", "stories260K.gguf"]);
        expect(models.body.loaded?.modelPath).toMatch(/stories260K/);
        const check = await api<{ compatible: boolean; reason: string }>("POST", "/api/models/check-draft", { target: "stories260K.gguf", draft: "other-vocab.gguf" });
        expect(check.body.compatible).toBe(false);
        expect(check.body.reason).toMatch(/token/);
        const refused = await api<{ error: { code: string; message: string } }>("POST", "/api/models/load", { target: "stories260K", draft: "other-vocab.gguf" });
        expect(refused.status).toBe(400);
        expect(refused.body.error.code).toBe("vocabulary-mismatch");
        expect(refused.body.error.message).toMatch(/vocabularies differ/);
        // The loaded model survived the refusal.
        expect((await api<{ engine: EngineInfo }>("GET", "/api/state")).body.engine.modelPath).toMatch(/stories260K/);
        expect((await api<{ error: { code: string } }>("POST", "/api/models/load", { target: "missing.gguf" })).body.error.code).toBe("model-not-found");
        expect((await api("POST", "/api/models/load", { target: "../../etc/passwd" })).status).toBe(404);
        const loaded = await api<EngineInfo>("POST", "/api/models/load", { target: "stories260K.gguf", draft: "stories260K.gguf" });
        expect(loaded.status).toBe(200);
        expect(loaded.body.available).toContain("draft");
        expect(loaded.body.threads).toBe(1);
        const events = await send((await api<{ id: string }>("POST", "/api/conversations", { sampling: { temperature: 0 } })).body.id, { content: "Once upon a time", strategies: ["draft"] });
        const done = events.at(-1)!;
        if (done.type !== "done") throw new Error(JSON.stringify(done));
        // A model drafting for itself is always right (greedily).
        expect(done.message.stats!.accepted).toBe(done.message.stats!.drafted);
    });

    it("refuses a corrupt model file with invalid-model and keeps the working model", async () => {
        const broken = join(server.modelsDir, "broken.gguf");
        writeFileSync(broken, readFileSync(storiesPath).subarray(0, 300));
        onTestFinished(() => rmSync(broken, { force: true }));
        for (const request of [{ target: "broken.gguf" }, { target: "stories260K.gguf", draft: "broken.gguf" }]) {
            const refused = await api<{ error: { code: string; message: string } }>("POST", "/api/models/load", request);
            expect(refused.status).toBe(400);
            expect(refused.body.error.code).toBe("invalid-model");
            expect(refused.body.error.message).toMatch(/broken\.gguf[^\n]*$/);
        }
        expect((await api<{ engine: EngineInfo }>("GET", "/api/state")).body.engine.modelPath).toMatch(/stories260K/);
    });

    it("reloads the model when a setting that fixes the load changes", async () => {
        expect((await api<EngineInfo>("POST", "/api/models/load", { target: "stories260K.gguf", draft: "stories260K.gguf" })).status).toBe(200);
        expect((await api<Settings>("PUT", "/api/settings", { contextSize: 512 })).status).toBe(200);
        await expect.poll(async () => (await api<{ engine: EngineInfo | null }>("GET", "/api/state")).body.engine?.contextSize, { timeout: 30_000 }).toBe(512);
        expect((await api<{ engine: EngineInfo }>("GET", "/api/state")).body.engine.draftModelPath).toMatch(/stories260K/);
    });

    it("indexes a folder of documents in the background and reports it", async () => {
        const folder = join(server.dir, "docs");
        mkdirSync(folder);
        writeFileSync(join(folder, "story.txt"), "Once upon a time there was a little dog named Max. Max liked to run in the park.\n".repeat(20));
        const added = await api<{ id: string; path: string }>("POST", "/api/documents", { path: folder });
        expect(added.status).toBe(202);
        await server.services.documents.idle();
        const list = await api<DocumentsResponse>("GET", "/api/documents");
        const source = list.body.sources.find((s) => s.id === added.body.id)!;
        expect(source.indexed).toBe(1);
        expect(source.tokens).toBeGreaterThan(100);
        expect(list.body.storeBytes).toBeGreaterThan(0);
        expect((await api("PATCH", `/api/documents/${source.id}`, { watch: true })).status).toBe(204);
        expect((await api("POST", `/api/documents/${source.id}/rescan`)).status).toBe(204);
        await server.services.documents.idle();
        expect((await api("DELETE", `/api/documents/${source.id}`)).status).toBe(204);
        expect((await api<DocumentsResponse>("GET", "/api/documents")).body.sources).toHaveLength(0);
        expect((await api("POST", "/api/documents", { path: join(folder, "missing") })).status).toBe(404);
    });

    it("clears the history without deleting conversations", async () => {
        await shortAnswers();
        const id = (await api<{ id: string }>("POST", "/api/conversations", {})).body.id;
        expect((await send(id, { content: "Once upon a time", strategies: ["none"] })).at(-1)!.type).toBe("done");
        expect((await api<DocumentsResponse>("GET", "/api/documents")).body.historyAnswers).toBe(1);
        expect((await api("DELETE", "/api/history")).status).toBe(204);
        expect((await api<DocumentsResponse>("GET", "/api/documents")).body.historyAnswers).toBe(0);
        const after = (await api<ConversationWithMessages>("GET", `/api/conversations/${id}`)).body;
        expect(after.messages.map((m) => m.role)).toEqual(["user", "assistant"]);
        expect((await api<unknown[]>("GET", "/api/conversations")).body).toHaveLength(1);
    });
});
