import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeWithStories } from "../../native-models/testing/stories.ts";
import type { AppEvent, DownloadProgress, ModelsResponse } from "../app-api.ts";
import { startTestServer, type TestServer } from "../testing/test-server.ts";

/** A model host on 127.0.0.1 that honours Range requests, sends slowly, and records what it sent. */
function modelHost(files: Record<string, Buffer>) {
    const served: { path: string; ranged: boolean; start: number; bytes: number }[] = [];
    const server: Server = createServer((req, res) => {
        const data = files[req.url ?? ""];
        if (data == null) return void res.writeHead(404).end();
        const m = /bytes=(\d+)-(\d*)/.exec(req.headers.range ?? "");
        const start = m ? Number(m[1]) : 0;
        const end = m && m[2] ? Number(m[2]) : data.length - 1;
        const body = data.subarray(start, end + 1);
        res.writeHead(m ? 206 : 200, {
            "content-length": body.length,
            "accept-ranges": "bytes",
            "content-type": "application/octet-stream",
            ...(m ? { "content-range": `bytes ${start}-${end}/${data.length}` } : {})
        });
        if (req.method === "HEAD") return void res.end();
        const record = { path: req.url!, ranged: m != null, start, bytes: 0 };
        served.push(record);
        let offset = 0;
        const tick = () => {
            if (res.destroyed) return;
            if (offset >= body.length) return void res.end();
            const piece = body.subarray(offset, offset + 64 * 1024);
            offset += piece.length;
            record.bytes += piece.length;
            res.write(piece);
            setTimeout(tick, 15);
        };
        tick();
    });
    return { server, served };
}

describeWithStories("model downloads", (storiesPath) => {
    // Skipped (no model) the body still runs to list the tests, with an empty path: read nothing then.
    const stories = storiesPath === "" ? Buffer.alloc(0) : readFileSync(storiesPath);
    // ipull writes in 5 MiB chunks, so a resumable download must be bigger than one; trailing bytes
    // after a GGUF's tensor data do not stop it loading.
    const big = Buffer.concat([stories, Buffer.alloc(12 * 1024 * 1024 - stories.length, 0)]);
    const host = modelHost({ "/stories260K.gguf": stories, "/big-stories.gguf": big, "/not-a-model.gguf": Buffer.from("hello".repeat(1000)) });
    let base = "";
    let server: TestServer;
    const events: AppEvent[] = [];

    beforeAll(async () => {
        await new Promise<void>((r) => host.server.listen(0, "127.0.0.1", r));
        base = `http://127.0.0.1:${(host.server.address() as AddressInfo).port}`;
        server = await startTestServer({ load: null });
        server.services.events.subscribe((e) => events.push(e));
    });
    afterAll(async () => {
        await server?.dispose();
        host.server.closeAllConnections();
        host.server.close();
    });

    const api = async <T>(method: string, path: string, body?: unknown) => {
        const res = await fetch(server.url + path, { method, headers: { "x-presage-token": server.token, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
        const text = await res.text();
        return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
    };
    const progressOf = (id: string) => events.filter((e): e is Extract<AppEvent, { type: "download-progress" }> => e.type === "download-progress" && e.progress.id === id).map((e) => e.progress);

    it("says no model is loaded until one is", async () => {
        const v1 = await fetch(`${server.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ messages: [{ role: "user", content: "hi" }] }) });
        expect(v1.status).toBe(503);
        expect(((await v1.json()) as { error: { code: string } }).error.code).toBe("no_model");
        expect(((await (await fetch(`${server.url}/v1/models`)).json()) as { data: unknown[] }).data).toEqual([]);
        const id = (await api<{ id: string }>("POST", "/api/conversations", {})).body.id;
        const send = await api<{ error: { code: string } }>("POST", `/api/conversations/${id}/messages`, { content: "hi" });
        expect(send.status).toBe(503);
        expect(send.body.error.code).toBe("no-model");
    });

    it("downloads a model into the models folder with progress, and it loads", async () => {
        const started = await api<{ id: string }>("POST", "/api/models/download", { uri: `${base}/stories260K.gguf` });
        expect(started.status).toBe(202);
        const final = await server.services.models.downloads.wait(started.body.id);
        expect(final).toMatchObject({ state: "done", fileName: "stories260K.gguf", downloadedBytes: stories.length, totalBytes: stories.length });
        expect(readFileSync(join(server.modelsDir, "stories260K.gguf")).equals(stories)).toBe(true);
        const progress = progressOf(started.body.id);
        expect(progress.at(-1)!.state).toBe("done");
        expect(progress[0]!.state).toBe("downloading");
        const models = await api<ModelsResponse>("GET", "/api/models");
        expect(models.body.files.map((f) => f.name)).toContain("stories260K.gguf");
        expect((await api("POST", "/api/models/load", { target: "stories260K.gguf" })).status).toBe(200);
    });

    it("cancels a download, keeps the partial file, and resumes it from there", async () => {
        const uri = `${base}/big-stories.gguf`;
        const { id } = (await api<{ id: string }>("POST", "/api/models/download", { uri })).body;
        await expect.poll(() => server.services.models.downloads.get(id)!.downloadedBytes, { timeout: 20_000, interval: 20 }).toBeGreaterThan(10_500_000);
        expect((await api("DELETE", `/api/models/download/${id}`)).status).toBe(204);
        expect(server.services.models.downloads.get(id)!.state).toBe("cancelled");
        const partial = progressOf(id).filter((p) => p.state === "downloading" && p.downloadedBytes > 0 && p.downloadedBytes < big.length);
        expect(partial.length).toBeGreaterThan(1);
        expect(progressOf(id).at(-1)!.state).toBe("cancelled");
        expect(readFileSync(join(server.modelsDir, "big-stories.gguf.ipull")).length).toBeGreaterThan(0);
        const before = host.served.length;

        const resumed = (await api<{ id: string }>("POST", "/api/models/download", { uri })).body.id;
        const final: DownloadProgress = await server.services.models.downloads.wait(resumed);
        expect(final.state).toBe("done");
        expect(readFileSync(join(server.modelsDir, "big-stories.gguf")).equals(big)).toBe(true);
        // The downloader probes the size with a plain GET it drops; the data comes in ranged parts, and
        // the parts finished before the cancel are not asked for again.
        const resumedParts = host.served.slice(before).filter((r) => r.ranged);
        expect(resumedParts.length).toBeGreaterThan(0);
        expect(resumedParts.reduce((n, r) => n + r.bytes, 0)).toBeLessThan(big.length);
    });

    it("reports a file that is not a model, and a bad address, as errors", async () => {
        const notModel = (await api<{ id: string }>("POST", "/api/models/download", { uri: `${base}/not-a-model.gguf` })).body.id;
        const a = await server.services.models.downloads.wait(notModel);
        expect(a.state).toBe("error");
        expect(a.error).toMatch(/not a usable GGUF/);
        const missing = (await api<{ id: string }>("POST", "/api/models/download", { uri: `${base}/missing.gguf` })).body.id;
        expect((await server.services.models.downloads.wait(missing)).state).toBe("error");
        expect((await api("POST", "/api/models/download", { uri: "ftp://example.com/x.gguf" })).status).toBe(400);
        expect((await api("DELETE", "/api/models/download/nope")).status).toBe(404);
    });
});
