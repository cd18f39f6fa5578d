import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { AnswerEvent, AppEvent, ConversationWithMessages, DocumentsResponse, EngineInfo, Settings } from "../core/app-api.ts";
import { engineProcessesUnder } from "../core/testing/engine-processes.ts";
import { describeWithStories } from "../native-models/testing/stories.ts";
import { callAppApi } from "./testing/app-api-client.ts";
import { readSseEvents, type SseEvent } from "./testing/sse-client.ts";
import { startTestServer, type TestServer } from "./testing/test-server.ts";

const stopped = "The model stopped unexpectedly; reloading.";

/** The one engine process of this test process's server, found by its title. */
function engineProcess(): number {
    const found = engineProcessesUnder(process.pid);
    expect(found).toHaveLength(1);
    expect(found[0]!.ppid).toBe(process.pid);
    return found[0]!.pid;
}

/** Sends a chat message over the app API; `onEvent` sees each event as it arrives. */
async function send(server: TestServer, conversationId: string, content: string, onEvent?: (e: AnswerEvent) => void): Promise<AnswerEvent[]> {
    const res = await fetch(`${server.url}/api/conversations/${conversationId}/messages`, {
        method: "POST",
        headers: { "x-presage-token": server.token, "content-type": "application/json", accept: "text/event-stream" },
        body: JSON.stringify({ content })
    });
    expect(res.status).toBe(200);
    const events: AnswerEvent[] = [];
    await readSseEvents(res.body!, (e) => {
        const event = { type: e.event, ...JSON.parse(e.data) } as AnswerEvent;
        events.push(event);
        onEvent?.(event);
    });
    return events;
}

/** Resolves once the app has a model loaded again (after a crash it reloads on its own). */
async function engineBack(server: TestServer): Promise<EngineInfo> {
    let info: EngineInfo | null = null;
    await expect.poll(async () => (info = (await callAppApi<{ engine: EngineInfo | null }>(server, "GET", "/api/state")).body.engine), { timeout: 60_000, interval: 100 }).not.toBeNull();
    return info!;
}

describeWithStories("the engine process dies under an answer", (storiesPath) => {
    let server: TestServer;
    let conversation: string;
    let docs: DocumentsResponse;

    beforeAll(async () => {
        server = await startTestServer({ modelFiles: [storiesPath] });
        // What is stored before the crash: a setting, an answered turn, an indexed folder.
        expect((await callAppApi(server, "PUT", "/api/settings", { theme: "dark", sampling: { maxTokens: 400, temperature: 0.8 } })).status).toBe(200);
        conversation = (await callAppApi<{ id: string }>(server, "POST", "/api/conversations", {})).body.id;
        expect((await send(server, conversation, "Once upon a time")).at(-1)?.type).toBe("done");
        const folder = join(server.dir, "docs");
        mkdirSync(folder);
        writeFileSync(join(folder, "story.txt"), "Lily went to the park with her mom. She saw a big red ball and she was very happy.\n".repeat(20));
        const added = await callAppApi<{ id: string }>(server, "POST", "/api/documents", { path: folder });
        expect(added.status).toBe(202);
        await vi.waitFor(async () => {
            if ((await callAppApi<DocumentsResponse>(server, "GET", "/api/documents")).body.sources[0]?.indexed !== 1) throw new Error("not indexed yet");
        }, { timeout: 60_000, interval: 100 });
        docs = (await callAppApi<DocumentsResponse>(server, "GET", "/api/documents")).body;
    });
    afterAll(() => server?.dispose());

    /** Everything stored is still there, and the next answer comes from a new engine process. */
    async function intact(before: number): Promise<void> {
        const settings = (await callAppApi<{ settings: Settings }>(server, "GET", "/api/state")).body.settings;
        expect(settings.theme).toBe("dark");
        expect(settings.sampling.maxTokens).toBe(400);
        const now = (await callAppApi<DocumentsResponse>(server, "GET", "/api/documents")).body;
        expect(now.sources.map((s) => [s.path, s.indexed, s.tokens])).toEqual(docs.sources.map((s) => [s.path, s.indexed, s.tokens]));
        const info = await engineBack(server);
        expect(info.modelPath).toMatch(/stories260K\.gguf$/);
        expect(info.available).toEqual(expect.arrayContaining(["retrieval", "history"]));
        const after = engineProcess();
        expect(after).not.toBe(before);
        const next = await send(server, conversation, "The cat sat");
        expect(next.at(-1)).toMatchObject({ type: "done" });
    }

    for (const signal of ["SIGKILL", "SIGSEGV"] as const) {
        it(`${signal} in the middle of a streamed answer: the stream ends with one error line within seconds, the next answer comes, nothing stored is lost`, async () => {
            await engineBack(server);
            const pid = engineProcess();
            const messagesBefore = (await callAppApi<ConversationWithMessages>(server, "GET", `/api/conversations/${conversation}`)).body.messages.length;
            let killedAt = 0;
            const events = await send(server, conversation, "Tom and his dog", (e) => {
                if (e.type === "step" && killedAt === 0) {
                    killedAt = performance.now();
                    process.kill(pid, signal);
                }
            });
            const endedAt = performance.now();
            expect(killedAt).toBeGreaterThan(0);
            expect(events.at(-1)).toEqual({ type: "error", message: stopped });
            expect(events.filter((e) => e.type === "error" || e.type === "done")).toHaveLength(1);
            expect(endedAt - killedAt).toBeLessThan(5000);
            // The question stays (it can be answered again); the failed answer is not stored.
            const messages = (await callAppApi<ConversationWithMessages>(server, "GET", `/api/conversations/${conversation}`)).body.messages;
            expect(messages).toHaveLength(messagesBefore + 1);
            expect(messages.at(-1)).toMatchObject({ role: "user", content: "Tom and his dog" });
            await intact(pid);
        });
    }

    it("SIGSEGV under an OpenAI stream ends it with an error event and [DONE]; a request waiting in line is answered", async () => {
        await engineBack(server);
        const pid = engineProcess();
        const other = (await callAppApi<{ id: string }>(server, "POST", "/api/conversations", {})).body.id;
        let waiting: Promise<AnswerEvent[]> | null = null;
        const res = await fetch(`${server.url}/v1/chat/completions`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ model: "stories260K", stream: true, max_tokens: 400, messages: [{ role: "user", content: "Once upon a time" }] })
        });
        expect(res.status).toBe(200);
        const events: SseEvent[] = [];
        await readSseEvents(res.body!, (e) => {
            events.push(e);
            if (events.length === 1) {
                // Queued behind the running answer, then the engine dies under that answer.
                waiting = send(server, other, "A little bird");
                setTimeout(() => process.kill(pid, "SIGSEGV"), 50);
            }
        });
        const error = events.find((e) => e.event === "error");
        expect(error).toBeDefined();
        expect(JSON.parse(error!.data).error).toMatchObject({ message: stopped, code: "engine_stopped" });
        expect(events.at(-1)?.data).toBe("[DONE]");
        expect(waiting).not.toBeNull();
        expect((await waiting!).at(-1)).toMatchObject({ type: "done" });
        await intact(pid);
    });
});

describeWithStories("the engine process dies while a model loads", (storiesPath) => {
    let server: TestServer;
    let log: string[];
    const originalError = console.error;

    beforeAll(async () => {
        // Calibrated loads take long enough (measuring decodes after the weights) to be killed in the middle.
        server = await startTestServer({ modelFiles: [storiesPath], load: null, services: { calibrate: true, engineLoadStallMs: 5000 } });
        log = [];
        console.error = (...args: unknown[]) => {
            log.push(args.join(" "));
            originalError(...args);
        };
    });
    afterAll(async () => {
        console.error = originalError;
        await server?.dispose();
    });

    /** Runs `action` on each engine process that reports loading progress, `times` times. */
    function onLoadProgress(times: number, action: (pid: number) => void): () => void {
        let left = times;
        const seen = new Set<number>();
        return server.services.events.subscribe((e: AppEvent) => {
            if (e.type !== "model-loading" || e.loading?.progress == null || left === 0) return;
            // A load reports progress several times: once per process.
            const pid = server.services.models.engineProcess.pid;
            if (pid == null || seen.has(pid)) return;
            seen.add(pid);
            left--;
            action(pid);
        });
    }

    it("a crash in the middle of a load: loaded again in a new process, then it answers", async () => {
        const stop = onLoadProgress(1, (pid) => process.kill(pid, "SIGSEGV"));
        const loaded = await callAppApi<EngineInfo>(server, "POST", "/api/models/load", { target: "stories260K.gguf" });
        stop();
        expect(loaded.status).toBe(200);
        expect(loaded.body.modelPath).toMatch(/stories260K\.gguf$/);
        expect(log.some((l) => /The model stopped unexpectedly while loading \(SIGSEGV\)\. Trying once more\./.test(l))).toBe(true);
        const conversation = (await callAppApi<{ id: string }>(server, "POST", "/api/conversations", {})).body.id;
        expect((await send(server, conversation, "Once upon a time")).at(-1)).toMatchObject({ type: "done" });
        expect(engineProcess()).toBe(server.services.models.engineProcess.pid);
    });

    it("a load that dies twice fails with one line; the model that was loaded is loaded again", async () => {
        const stop = onLoadProgress(2, (pid) => process.kill(pid, "SIGKILL"));
        const failed = await callAppApi<{ error: { message: string; code: string } }>(server, "POST", "/api/models/load", { target: "stories260K.gguf", draft: "stories260K.gguf" });
        stop();
        expect(failed.status).toBe(503);
        expect(failed.body.error).toMatchObject({ message: "The model stopped unexpectedly while loading (SIGKILL) twice: choose another model or other load settings.", code: "engine-stopped" });
        const info = await engineBack(server);
        expect(info.draftModelPath).toBeNull();
        const conversation = (await callAppApi<{ id: string }>(server, "POST", "/api/conversations", {})).body.id;
        expect((await send(server, conversation, "Once upon a time")).at(-1)).toMatchObject({ type: "done" });
    });

    it("an engine process that stops answering while it loads is stopped and the load tried again", async () => {
        const stop = onLoadProgress(1, (pid) => process.kill(pid, "SIGSTOP"));
        const started = performance.now();
        const loaded = await callAppApi<EngineInfo>(server, "POST", "/api/models/load", { target: "stories260K.gguf", draft: "stories260K.gguf" });
        stop();
        expect(loaded.status).toBe(200);
        expect(loaded.body.draftModelPath).toMatch(/stories260K\.gguf$/);
        expect(performance.now() - started).toBeGreaterThan(5000);
        expect(log.some((l) => /it gave no sign of life for 5 s and was stopped/.test(l))).toBe(true);
    });
});

describeWithStories("the engine process hangs under an answer", (storiesPath) => {
    let server: TestServer;
    beforeAll(async () => {
        server = await startTestServer({ modelFiles: [storiesPath], services: { engineStopGraceMs: 2000 } });
        expect((await callAppApi(server, "PUT", "/api/settings", { sampling: { maxTokens: 400 } })).status).toBe(200);
    });
    afterAll(() => server?.dispose());

    it("Stop on an answer whose engine no longer moves ends that process within the grace time, and the next answer comes", async () => {
        const pid = engineProcess();
        const conversation = (await callAppApi<{ id: string }>(server, "POST", "/api/conversations", {})).body.id;
        let stoppedAt = 0;
        const events = await send(server, conversation, "Once upon a time", (e) => {
            if (e.type !== "start") return;
            // The engine freezes (as a process stuck in native code would), then the user presses Stop.
            process.kill(pid, "SIGSTOP");
            stoppedAt = performance.now();
            void callAppApi(server, "POST", `/api/generations/${e.generationId}/stop`);
        });
        expect(events.at(-1)).toEqual({ type: "error", message: stopped });
        const took = performance.now() - stoppedAt;
        expect(took).toBeGreaterThan(1500);
        expect(took).toBeLessThan(8000);
        await engineBack(server);
        expect(engineProcess()).not.toBe(pid);
        expect((await send(server, conversation, "The cat sat")).at(-1)).toMatchObject({ type: "done" });
    });
});

describe("engineProcessesUnder", () => {
    it("finds nothing under a process that started no engine", () => {
        expect(engineProcessesUnder(1 << 22)).toEqual([]);
    });
});
