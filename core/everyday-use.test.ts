import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeWithStories } from "../native-models/testing/stories.ts";
import type { AnswerEvent, Conversation, ConversationWithMessages, DocumentsResponse, EngineInfo, Settings } from "./app-api.ts";
import { readSseEvents } from "../server/testing/sse-client.ts";
import { startTestServer, type TestServer } from "../server/testing/test-server.ts";
import { callAppApi } from "../server/testing/app-api-client.ts";

/** The app API behind the chat window's everyday features (issue 12): titles, answer versions, settings defaults, documents. */
describeWithStories("the app API for everyday use", (storiesPath) => {
    let server: TestServer;
    beforeAll(async () => {
        server = await startTestServer({ modelFiles: [storiesPath] });
    });
    afterAll(() => server?.dispose());

    const api = <T>(method: string, path: string, body?: unknown) => callAppApi<T>(server, method, path, body);

    async function send(conversationId: string, body: unknown): Promise<AnswerEvent[]> {
        const res = await fetch(`${server.url}/api/conversations/${conversationId}/messages`, {
            method: "POST",
            headers: { "x-presage-token": server.token, "content-type": "application/json", accept: "text/event-stream" },
            body: JSON.stringify(body)
        });
        expect(res.status).toBe(200);
        const events: AnswerEvent[] = [];
        await readSseEvents(res.body!, (e) => events.push({ type: e.event, ...JSON.parse(e.data) } as AnswerEvent));
        return events;
    }

    it("samples at 0.8 by default, with the model's trained context, auto on and exact off", async () => {
        const state = await api<{ settings: Settings; engine: EngineInfo }>("GET", "/api/state");
        expect(state.body.settings.sampling.temperature).toBe(0.8);
        expect(state.body.settings.contextSize).toBe("auto");
        expect(state.body.settings.strategies.auto).toBe(true);
        expect(state.body.settings.exact).toBe(false);
        // Hypothesis reduction has no switch: it is always on.
        expect(state.body.settings.strategies).not.toHaveProperty("reduction");
        expect((await api("PUT", "/api/settings", { strategies: { reduction: false } })).status).toBe(400);
        expect((await api<Settings>("PUT", "/api/settings", { exact: true })).body.exact).toBe(true);
        expect((await api<Settings>("PUT", "/api/settings", { exact: false })).body.exact).toBe(false);
        await api("PUT", "/api/settings", { strategies: { auto: false } });
        expect(state.body.engine.trainContextSize).toBeGreaterThan(0);
        expect(state.body.engine.contextSize).toBe(Math.min(state.body.engine.trainContextSize!, 4096));
        // "auto" is a setting like the others, and it is what answers use when on.
        expect((await api<Settings>("PUT", "/api/settings", { strategies: { auto: true }, sampling: { temperature: 0, maxTokens: 24 } })).body.strategies.auto).toBe(true);
        expect((await api("PUT", "/api/settings", { contextSize: "big" })).status).toBe(400);
    });

    it("titles a conversation from its first message even when its system prompt came first", async () => {
        const created = await api<Conversation>("POST", "/api/conversations", { systemPrompt: "You tell short stories." });
        expect(created.body.title).toBe("");
        const events = await send(created.body.id, { content: "Once upon a time\nthere was a cat" });
        const start = events.find((e) => e.type === "start") as Extract<AnswerEvent, { type: "start" }>;
        // The window shows the title as soon as the answer starts.
        expect(start.conversation?.title).toBe("Once upon a time");
        const done = events.at(-1) as Extract<AnswerEvent, { type: "done" }>;
        expect(done.type).toBe("done");
        // "auto" (switched on above) used every available strategy but early exit (untuned exits disagree early).
        expect(done.message.strategies).toContain("ngram");
        expect(done.message.strategies).not.toContain("early-exit");
        await send(created.body.id, { content: "Tell me more" });
        expect((await api<Conversation>("GET", `/api/conversations/${created.body.id}`)).status).toBe(200);
        const list = await api<Conversation[]>("GET", "/api/conversations");
        expect(list.body.find((c) => c.id === created.body.id)?.title).toBe("Once upon a time");
    });

    it("keeps earlier answers as versions on regenerate and switches between them", async () => {
        await api("PUT", "/api/settings", { sampling: { temperature: 0.9, seed: null, maxTokens: 24 } });
        const c = (await api<Conversation>("POST", "/api/conversations", {})).body;
        const first = (await send(c.id, { content: "Lily had a red ball" })).at(-1) as Extract<AnswerEvent, { type: "done" }>;
        expect(first.type).toBe("done");
        expect(first.message.versions ?? null).toBeNull();
        const second = (await send(c.id, { regenerate: true })).at(-1) as Extract<AnswerEvent, { type: "done" }>;
        expect(second.type).toBe("done");
        expect(second.message.versions).toEqual({ ids: [first.message.id, second.message.id], index: 1 });
        const third = (await send(c.id, { regenerate: true })).at(-1) as Extract<AnswerEvent, { type: "done" }>;
        expect(third.message.versions).toEqual({ ids: [first.message.id, second.message.id, third.message.id], index: 2 });

        let got = (await api<ConversationWithMessages>("GET", `/api/conversations/${c.id}`)).body;
        expect(got.messages.map((m) => m.role)).toEqual(["user", "assistant"]);
        expect(got.messages[1]!.id).toBe(third.message.id);

        expect((await api("PATCH", `/api/conversations/${c.id}`, { showVersion: first.message.id })).status).toBe(200);
        got = (await api<ConversationWithMessages>("GET", `/api/conversations/${c.id}`)).body;
        expect(got.messages[1]).toMatchObject({ id: first.message.id, content: first.message.content, versions: { index: 0 } });
        expect(got.messages[1]!.stats?.tokens).toBe(first.message.stats?.tokens);

        // The conversation continues from the version shown.
        await send(c.id, { content: "What happened next?" });
        got = (await api<ConversationWithMessages>("GET", `/api/conversations/${c.id}`)).body;
        expect(got.messages.map((m) => m.id).slice(0, 2)).toEqual([got.messages[0]!.id, first.message.id]);
        expect(got.messages.map((m) => m.role)).toEqual(["user", "assistant", "user", "assistant"]);

        // An id that is not an answer of this conversation is refused with one line.
        const bad = await api<{ error: { code: string; message: string } }>("PATCH", `/api/conversations/${c.id}`, { showVersion: got.messages[0]!.id });
        expect(bad.status).toBe(404);
        expect(bad.body.error.message).toMatch(/^There is no answer \d+ in this conversation\.$/);
        // An edit of the question drops its answers, versions included.
        await send(c.id, { content: "Tom had a kite", editMessageId: got.messages[0]!.id });
        got = (await api<ConversationWithMessages>("GET", `/api/conversations/${c.id}`)).body;
        expect(got.messages).toHaveLength(2);
        expect(got.messages[1]!.versions ?? null).toBeNull();
    });

    it("lists non-text files as skipped, indexed files with their tokens, and removes one file for good", async () => {
        const folder = join(server.dir, "docs");
        mkdirSync(folder);
        writeFileSync(join(folder, "story.txt"), "Once upon a time there was a little dog named Max. Max liked to run in the park.\n".repeat(20));
        writeFileSync(join(folder, "tale.md"), "The cat sat on the mat and looked at the sun.\n".repeat(20));
        writeFileSync(join(folder, "photo.png"), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0, 1]));
        writeFileSync(join(folder, "weights.bin"), Buffer.from([0, 1, 2, 3]));
        const added = await api<{ id: string }>("POST", "/api/documents", { path: folder });
        await server.services.documents.idle();
        let list = (await api<DocumentsResponse>("GET", "/api/documents")).body;
        let source = list.sources.find((s) => s.id === added.body.id)!;
        expect(source.skipped.map((s) => [s.path.slice(folder.length + 1), s.reason]).sort()).toEqual([
            ["photo.png", "not a text file (.png)"],
            ["weights.bin", "not a text file (.bin)"]
        ]);
        expect(source.indexedFiles!.map((f) => f.path.slice(folder.length + 1)).sort()).toEqual(["story.txt", "tale.md"]);
        expect(source.indexedFiles!.every((f) => f.tokens > 10)).toBe(true);
        expect(source.indexedFiles!.reduce((n, f) => n + f.tokens, 0)).toBe(source.tokens);
        expect(list.historyAnswers).toBeGreaterThan(0);

        const tale = source.indexedFiles!.find((f) => f.path.endsWith("tale.md"))!;
        expect((await api("DELETE", `/api/documents/${encodeURIComponent(tale.id)}`)).status).toBe(204);
        // A rescan leaves the removed file out.
        expect((await api("POST", `/api/documents/${source.id}/rescan`)).status).toBe(204);
        await server.services.documents.idle();
        list = (await api<DocumentsResponse>("GET", "/api/documents")).body;
        source = list.sources.find((s) => s.id === added.body.id)!;
        expect(source.indexedFiles!.map((f) => f.path.slice(folder.length + 1))).toEqual(["story.txt"]);
        expect(source.tokens).toBe(source.indexedFiles![0]!.tokens);
        expect(source.skipped.find((s) => s.path.endsWith("tale.md"))?.reason).toBe("removed from the index by you");
        const again = await api<{ error: { message: string } }>("DELETE", `/api/documents/${encodeURIComponent(tale.id)}`);
        expect(again.status).toBe(404);
        expect(again.body.error.message).toMatch(/^There is no indexed file \d+ in .*: it may have been removed\.$/);
    });
});
