import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it, onTestFinished, vi } from "vitest";
import type { AnswerEvent, ConversationWithMessages, DocumentsResponse, EngineInfo, ModelsResponse, Settings } from "../core/app-api.ts";
import { describeWithStories } from "../native-models/testing/stories.ts";
import { missingBackend } from "../core/testing/missing-backend.ts";
import { rawRequest } from "./testing/raw-request.ts";
import { readSseEvents } from "./testing/sse-client.ts";
import { startTestServer, type TestServer } from "./testing/test-server.ts";

/**
 * The bounds a hostile run found missing (issue 23): indexing stays inside the folder added and
 * within its limits, removal cancels at once, a setting that cannot load never unloads the model,
 * one answer per message, and the API's edges (model paths, unknown paths). A real server, real
 * folders, real concurrent clients.
 */
describeWithStories("presage serve within bounds", (storiesPath) => {
    let server: TestServer;
    let scratch: string;

    beforeEach(async () => {
        scratch = mkdtempSync(join(tmpdir(), "presage-bounds-"));
        // A built window, so a path that wrongly falls through to the page would get HTML, not 404.
        mkdirSync(join(scratch, "page"));
        writeFileSync(join(scratch, "page", "index.html"), "<!doctype html><html><head></head><body>the page</body></html>");
        server = await startTestServer({ modelFiles: [storiesPath], rendererDir: join(scratch, "page") });
    });
    afterEach(async () => {
        await server?.dispose();
        rmSync(scratch, { recursive: true, force: true });
    });

    async function api<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T; bytes: number }> {
        const res = await fetch(server.url + path, {
            method,
            headers: { "x-presage-token": server.token, ...(body === undefined ? {} : { "content-type": "application/json" }) },
            body: body === undefined ? undefined : JSON.stringify(body)
        });
        const text = await res.text();
        return { status: res.status, body: (text === "" ? undefined : JSON.parse(text)) as T, bytes: Buffer.byteLength(text) };
    }

    /** One message's stream: the HTTP status, and its events when it streamed. */
    async function send(conversationId: string, body: unknown, onEvent?: (e: AnswerEvent) => void): Promise<{ status: number; events: AnswerEvent[]; error?: { message: string; code: string } }> {
        const res = await fetch(`${server.url}/api/conversations/${conversationId}/messages`, {
            method: "POST",
            headers: { "x-presage-token": server.token, "content-type": "application/json", accept: "text/event-stream" },
            body: JSON.stringify(body)
        });
        if (res.status !== 200) return { status: res.status, events: [], error: ((await res.json()) as { error: { message: string; code: string } }).error };
        const events: AnswerEvent[] = [];
        await readSseEvents(res.body!, (e) => {
            const event = { type: e.event, ...JSON.parse(e.data) } as AnswerEvent;
            events.push(event);
            onEvent?.(event);
        });
        return { status: 200, events };
    }

    /** A folder of `n` small text files in subfolders of 100. */
    function tree(name: string, n: number): string {
        const root = join(scratch, name);
        for (let i = 0; i < n; i++) {
            const sub = join(root, `part-${String(Math.floor(i / 100)).padStart(3, "0")}`);
            if (i % 100 === 0) mkdirSync(sub, { recursive: true });
            writeFileSync(join(sub, `note-${String(i).padStart(5, "0")}.txt`), `Note ${i}: once upon a time there was a little bird.\n`);
        }
        return root;
    }

    const documents = () => api<DocumentsResponse>("GET", "/api/documents");
    const sourceOf = async (id: string) => (await documents()).body.sources.find((s) => s.id === id);

    it("refuses /proc, /sys and /dev as sources with one line", async () => {
        for (const path of ["/proc", "/proc/self/cwd", "/sys", "/dev"]) {
            const refused = await api<{ error: { message: string; code: string } }>("POST", "/api/documents", { path });
            expect(refused.status, path).toBe(400);
            expect(refused.body.error.message).toMatch(/system filesystem.*add a folder of your own files/);
            expect(refused.body.error.message).not.toContain("\n");
        }
        expect((await documents()).body.sources).toHaveLength(0);
    });

    it("indexes only what is inside the folder: links out are listed, a FIFO is never opened", async () => {
        const root = join(scratch, "docs");
        const outside = join(scratch, "outside");
        mkdirSync(root);
        mkdirSync(outside);
        writeFileSync(join(root, "mine.md"), "# Mine\nOnce upon a time.");
        writeFileSync(join(outside, "secret.txt"), "not yours to index");
        symlinkSync(outside, join(root, "elsewhere"));
        symlinkSync(join(outside, "secret.txt"), join(root, "secret.txt"));
        execFileSync("mkfifo", [join(root, "pipe.txt")]);
        const added = await api<{ id: string }>("POST", "/api/documents", { path: root });
        expect(added.status).toBe(202);
        await server.services.documents.idle();
        const source = (await sourceOf(added.body.id))!;
        expect(source.indexedFiles!.map((f) => f.path)).toEqual([join(root, "mine.md")]);
        expect(Object.fromEntries(source.skipped.map((s) => [s.path.slice(root.length + 1), s.reason]))).toEqual({
            elsewhere: "not indexed (a symbolic link to outside the folder you added)",
            "pipe.txt": "not a regular file",
            "secret.txt": "not indexed (a symbolic link to outside the folder you added)"
        });
        expect(source.stopReason).toBeNull();
    });

    it("stops a source at its files limit with the reason, and pages the document list", async () => {
        const limited = await api<Settings>("PUT", "/api/settings", { indexMaxFiles: 1000 });
        expect(limited.status).toBe(200);
        expect(limited.body.indexMaxFiles).toBe(1000);
        expect(limited.body.indexMaxBytes).toBe(2 * 1024 ** 3);
        const root = tree("many", 3000);
        const added = await api<{ id: string }>("POST", "/api/documents", { path: root });
        await server.services.documents.idle();
        const first = await documents();
        const source = first.body.sources.find((s) => s.id === added.body.id)!;
        expect(source.files).toBe(1000);
        expect(source.indexed).toBe(1000);
        expect(source.stopReason).toMatch(/^Stopped at 1000 files, the limit for one source: .*raise the limit in Settings\.$/);
        // The first page by default, and any other on request: never the whole list.
        expect(first.body.page).toEqual({ limit: 100, offset: 0 });
        expect(source.indexedFiles).toHaveLength(100);
        expect(first.bytes).toBeLessThan(40_000);
        const second = (await api<DocumentsResponse>("GET", "/api/documents?limit=50&offset=100")).body.sources[0]!;
        expect(second.indexedFiles).toHaveLength(50);
        expect(second.indexedFiles![0]!.path).not.toBe(source.indexedFiles![0]!.path);
        expect(new Set([...source.indexedFiles!, ...second.indexedFiles!].map((f) => f.id)).size).toBe(150);
        expect((await api("GET", "/api/documents?limit=5000")).status).toBe(400);
        expect((await api("GET", "/api/documents?offset=-1")).status).toBe(400);

        // The bytes limit stops it too (on a rescan, keeping what it had).
        expect((await api("PUT", "/api/settings", { indexMaxFiles: 100_000, indexMaxBytes: 20_000 })).status).toBe(200);
        expect((await api("POST", `/api/documents/${added.body.id}/rescan`)).status).toBe(204);
        await server.services.documents.idle();
        const rescanned = (await sourceOf(added.body.id))!;
        expect(rescanned.stopReason).toMatch(/^Stopped at 19\.5 KB of files, the limit for one source/);
        // A walk that stopped did not see the rest: what it did not reach is kept, not dropped as gone.
        expect(rescanned.indexed).toBe(1000);
    });

    it("removes a source within a second while it indexes, and the sources behind it proceed", async () => {
        const big = tree("big", 3000);
        const small = join(scratch, "small");
        mkdirSync(small);
        writeFileSync(join(small, "one.md"), "Once upon a time.");
        const a = (await api<{ id: string }>("POST", "/api/documents", { path: big })).body.id;
        const b = (await api<{ id: string }>("POST", "/api/documents", { path: small })).body.id;
        await expect.poll(async () => (await sourceOf(a))?.progress?.filesDone ?? 0, { timeout: 60_000, interval: 20 }).toBeGreaterThan(0);
        expect((await sourceOf(a))!.state).toBe("indexing");
        const started = performance.now();
        expect((await api("DELETE", `/api/documents/${a}`)).status).toBe(204);
        expect(performance.now() - started).toBeLessThan(1000);
        expect(await sourceOf(a)).toBeUndefined();
        await server.services.documents.idle();
        const after = (await documents()).body.sources;
        expect(after.map((s) => s.id)).toEqual([b]);
        expect(after[0]!.indexed).toBe(1);
        expect(server.services.datastore.documents.list().every((d) => d.path.startsWith(small))).toBe(true);
    });

    it("pauses a source within a second while it indexes, keeps what it stored, and resumes it", async () => {
        const big = tree("paused", 3000);
        const id = (await api<{ id: string }>("POST", "/api/documents", { path: big })).body.id;
        await expect.poll(async () => (await sourceOf(id))?.progress?.filesDone ?? 0, { timeout: 60_000, interval: 20 }).toBeGreaterThan(0);
        const started = performance.now();
        expect((await api("POST", `/api/documents/${id}/pause`, { paused: true })).status).toBe(204);
        expect(performance.now() - started).toBeLessThan(1000);
        await server.services.documents.idle();
        const paused = (await sourceOf(id))!;
        expect(paused.paused).toBe(true);
        expect(paused.state).toBe("idle");
        expect(paused.indexed).toBeLessThan(3000);
        // Paused means left alone: a rescan does nothing.
        expect((await api("POST", `/api/documents/${id}/rescan`)).status).toBe(204);
        await server.services.documents.idle();
        expect((await sourceOf(id))!.indexed).toBe(paused.indexed);
        expect((await api("POST", `/api/documents/${id}/pause`, { paused: "yes" })).status).toBe(400);
        expect((await api("POST", `/api/documents/${id}/pause`, { paused: false })).status).toBe(204);
        await server.services.documents.idle();
        const resumed = (await sourceOf(id))!;
        expect(resumed.paused).toBe(false);
        expect(resumed.indexed).toBe(3000);
    });

    it("refuses a backend that is not here with 400 and keeps the model and the settings", async (ctx) => {
        const missing = await missingBackend();
        if (missing == null) ctx.skip("every GPU backend starts on this machine");
        const before = (await api<{ engine: EngineInfo; settings: Settings }>("GET", "/api/state")).body;
        expect(before.engine).not.toBeNull();
        const refused = await api<{ error: { message: string; code: string } }>("PUT", "/api/settings", { backend: missing });
        expect(refused.status).toBe(400);
        expect(refused.body.error.message).toMatch(new RegExp(`^The ${missing} backend is not available on this machine \\(.*\\): choose one available here: auto, cpu`));
        expect(refused.body.error.message).not.toContain("\n");
        const after = (await api<{ engine: EngineInfo | null; settings: Settings }>("GET", "/api/state")).body;
        expect(after.settings.backend).toBe("auto");
        expect(after.engine?.modelPath).toBe(before.engine.modelPath);
        // Chat still answers.
        const conversation = (await api<{ id: string }>("POST", "/api/conversations", {})).body;
        expect((await api("PUT", "/api/settings", { sampling: { maxTokens: 8 } })).status).toBe(200);
        const answered = await send(conversation.id, { content: "Once upon a time" });
        expect(answered.events.at(-1)?.type).toBe("done");
    });

    it("answers one message per conversation at a time: simultaneous ones get 409 and store nothing", async () => {
        expect((await api("PUT", "/api/settings", { sampling: { maxTokens: 48 } })).status).toBe(200);
        const conversation = (await api<{ id: string }>("POST", "/api/conversations", {})).body;
        const results = await Promise.all([0, 1, 2, 3, 4].map((i) => send(conversation.id, { content: `m${i}` })));
        const answered = results.filter((r) => r.status === 200);
        const refused = results.filter((r) => r.status === 409);
        expect(answered).toHaveLength(1);
        expect(refused).toHaveLength(4);
        for (const r of refused) {
            expect(r.error!.code).toBe("conflict");
            expect(r.error!.message).toMatch(/^This conversation is still answering the previous message: wait for the answer \(or stop it\), then send again\.$/);
        }
        expect(answered[0]!.events.at(-1)?.type).toBe("done");
        // Once it is done, the next message is answered.
        expect((await send(conversation.id, { content: "next" })).events.at(-1)?.type).toBe("done");
        const stored = (await api<ConversationWithMessages>("GET", `/api/conversations/${conversation.id}`)).body.messages;
        expect(stored.map((m) => m.role)).toEqual(["user", "assistant", "user", "assistant"]);
        expect(stored[2]!.content).toBe("next");
        expect(stored.every((m) => m.role === "user" || (m.versions?.ids.length ?? 0) <= 1)).toBe(true);
    });

    it("does not keep a message refused as too long for the context", async () => {
        const conversation = (await api<{ id: string }>("POST", "/api/conversations", {})).body;
        expect((await api("PUT", "/api/settings", { sampling: { maxTokens: 8 } })).status).toBe(200);
        expect((await send(conversation.id, { content: "Once upon a time" })).events.at(-1)?.type).toBe("done");
        const long = "once upon a time there was a little girl ".repeat(400);
        const refused = await send(conversation.id, { content: long });
        const last = refused.events.at(-1) as Extract<AnswerEvent, { type: "error" }>;
        expect(last.type).toBe("error");
        expect(last.message).toMatch(/context/);
        const stored = (await api<ConversationWithMessages>("GET", `/api/conversations/${conversation.id}`)).body.messages;
        expect(stored.map((m) => m.role)).toEqual(["user", "assistant"]);
    });

    it("logs one line when a conversation is deleted mid-answer", async () => {
        const logged: string[] = [];
        const spy = vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => void logged.push(args.map(String).join(" ")));
        onTestFinished(() => spy.mockRestore());
        expect((await api("PUT", "/api/settings", { sampling: { maxTokens: 100_000 } })).status).toBe(200);
        const conversation = (await api<{ id: string }>("POST", "/api/conversations", {})).body;
        const deletion: { done?: Promise<{ status: number }> } = {};
        const result = await send(conversation.id, { content: "Once upon a time" }, (e) => {
            if (e.type === "step" && deletion.done == null) deletion.done = api("DELETE", `/api/conversations/${conversation.id}`);
        });
        expect((await deletion.done)?.status).toBe(204);
        expect(result.events.at(-1)).toMatchObject({ type: "error", message: "The conversation was deleted while it was answering." });
        const lines = logged.filter((l) => l.includes(`conversation ${conversation.id}`) || l.includes("answer"));
        expect(lines).toEqual([`presage: conversation ${conversation.id} was deleted while answering; its answer was dropped.`]);
        expect(logged.join("\n")).not.toMatch(/\n\s+at /);
    });

    it("loads models over the API only from the models folder, and never quotes a file", async () => {
        const passwd = join(scratch, "passwd");
        writeFileSync(passwd, "root:x:0:0:root:/root:/bin/bash\n");
        for (const target of [passwd, "/etc/passwd", join(scratch, "..", "..", "etc", "passwd")]) {
            const refused = await api<{ error: { message: string; code: string } }>("POST", "/api/models/load", { target });
            expect(refused.status, target).toBe(404);
            expect(refused.body.error.message).not.toMatch(/root:|"root/);
        }
        // Inside the folder but not a GGUF: refused as invalid, without its bytes.
        writeFileSync(join(server.modelsDir, "notes.gguf"), "root:x:0:0:root:/root:/bin/bash\n");
        const invalid = await api<{ error: { message: string; code: string } }>("POST", "/api/models/load", { target: "notes.gguf" });
        expect(invalid.status).toBe(400);
        expect(invalid.body.error.message).toMatch(/is not a GGUF file: it does not start with "GGUF"/);
        expect(invalid.body.error.message).not.toContain("root");
        // A link out of the folder is neither listed nor loadable; one inside is both.
        const elsewhere = join(scratch, "elsewhere");
        mkdirSync(elsewhere);
        execFileSync("cp", [storiesPath, join(elsewhere, "outside.gguf")]);
        symlinkSync(join(elsewhere, "outside.gguf"), join(server.modelsDir, "linked-out.gguf"));
        symlinkSync(join(server.modelsDir, "stories260K.gguf"), join(server.modelsDir, "linked-in.gguf"));
        const listed = (await api<ModelsResponse>("GET", "/api/models")).body.files.map((f) => f.name);
        expect(listed).toContain("linked-in.gguf");
        expect(listed).not.toContain("linked-out.gguf");
        expect((await api("POST", "/api/models/load", { target: "linked-out.gguf" })).status).toBe(404);
        expect((await api("POST", "/api/models/load", { target: join(elsewhere, "outside.gguf") })).status).toBe(404);
        expect((await api<EngineInfo>("POST", "/api/models/load", { target: "linked-in.gguf" })).status).toBe(200);
    });

    it("answers unknown /api paths in any spelling with a JSON 404, never the page", async () => {
        const base = `http://127.0.0.1:${server.port}`;
        for (const path of ["/API/state", "//api/state", "/Api/documents", "/%61pi/state", "//v1/models", "/V1/models", "/api/nothing", "///api//state"]) {
            const res = await rawRequest(base + path, { headers: { "x-presage-token": server.token } });
            expect(res.status, path).toBe(404);
            expect(res.headers["content-type"], path).toMatch(/application\/json/);
            expect(JSON.parse(res.body).error.code).toBe("not-found");
        }
        // The page is still the page.
        expect((await rawRequest(base + "/")).body).toContain("the page");
        expect((await rawRequest(base + "/settings")).body).toContain("the page");
        expect((await rawRequest(base + "/api/state", { headers: { "x-presage-token": server.token } })).status).toBe(200);
    });
});
