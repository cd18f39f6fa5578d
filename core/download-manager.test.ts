import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { synthesizeModel } from "../native-models/gguf/synth.ts";
import { downloadStallTimeoutMs } from "../native-models/runtime/model-download.ts";
import { describeWithStories } from "../native-models/testing/stories.ts";
import type { AppEvent, DownloadProgress, ModelsResponse, PairDownloadProgress } from "./app-api.ts";
import { closedPortUrl, pairPaths, startBlackHole, startModelHost, type ModelHost } from "./testing/model-host.ts";
import { startTestServer, type TestServer } from "../server/testing/test-server.ts";

describeWithStories("model downloads", (storiesPath) => {
    // Skipped (no model) the body still runs to list the tests, with an empty path: read nothing then.
    const stories = storiesPath === "" ? Buffer.alloc(0) : readFileSync(storiesPath);
    // ipull writes in 5 MiB chunks, so a resumable download must be bigger than one; trailing bytes
    // after a GGUF's tensor data do not stop it loading.
    const big = Buffer.concat([stories, Buffer.alloc(12 * 1024 * 1024 - stories.length, 0)]);
    let host: ModelHost;
    let server: TestServer;
    const events: AppEvent[] = [];
    const qwen = pairPaths("qwen3-8b");
    const llama = pairPaths("llama-3.1-8b");

    beforeAll(async () => {
        const synthPath = join((await import("node:os")).tmpdir(), `presage-synth-${process.pid}.gguf`);
        await synthesizeModel({ out: synthPath, seed: 5 });
        const synth = readFileSync(synthPath);
        host = await startModelHost({
            "/stories260K.gguf": stories, "/big-stories.gguf": big, "/not-a-model.gguf": Buffer.from("hello".repeat(1000)), "/stalls.gguf": big,
            // Hugging Face's layout for the recommended pairs: a matching pair, and one whose draft has another vocabulary.
            [qwen.target]: big, [qwen.draft]: stories,
            [llama.target]: stories, [llama.draft]: synth
        }, { stallAfter: { "/stalls.gguf": 6 * 1024 * 1024 } });
        server = await startTestServer({ load: null, services: { huggingFaceEndpoint: host.url, downloadStallTimeoutMs: 1500 } });
        server.services.events.subscribe((e) => events.push(e));
    });
    afterAll(async () => {
        await server?.dispose();
        await host?.close();
    });

    const api = async <T>(method: string, path: string, body?: unknown) => {
        const res = await fetch(server.url + path, { method, headers: { "x-presage-token": server.token, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
        const text = await res.text();
        return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
    };
    const progressOf = (id: string) => events.filter((e): e is Extract<AppEvent, { type: "download-progress" }> => e.type === "download-progress" && e.progress.id === id).map((e) => e.progress);
    const pairEventsOf = (id: string) => events.filter((e): e is Extract<AppEvent, { type: "pair-download" }> => e.type === "pair-download" && e.pair.id === id).map((e) => e.pair);

    it("shares one stall timeout with the CLI, inside 30 s", () => {
        expect(downloadStallTimeoutMs).toBeLessThanOrEqual(30_000);
    });

    it("downloads a model into the models folder with progress, and it loads", async () => {
        const started = await api<{ id: string }>("POST", "/api/models/download", { uri: `${host.url}/stories260K.gguf` });
        expect(started.status).toBe(202);
        const final = await server.services.models.downloads.wait(started.body.id);
        expect(final).toMatchObject({ state: "done", fileName: "stories260K.gguf", downloadedBytes: stories.length, totalBytes: stories.length });
        expect(readFileSync(join(server.modelsDir, "stories260K.gguf")).equals(stories)).toBe(true);
        const progress = progressOf(started.body.id);
        expect(progress.at(-1)!.state).toBe("done");
        expect(progress[0]!.state).toBe("downloading");
        const models = await api<ModelsResponse>("GET", "/api/models");
        expect(models.body.files.map((f) => f.name)).toContain("stories260K.gguf");
        expect(models.body.downloads.find((d) => d.id === started.body.id)?.state).toBe("done");
        expect((await api("POST", "/api/models/load", { target: "stories260K.gguf" })).status).toBe(200);
    });

    it("cancels a download, keeps the partial file, and resumes it from there under the same id", async () => {
        const uri = `${host.url}/big-stories.gguf`;
        const { id } = (await api<{ id: string }>("POST", "/api/models/download", { uri })).body;
        await expect.poll(() => server.services.models.downloads.get(id)!.downloadedBytes, { timeout: 20_000, interval: 20 }).toBeGreaterThan(10_500_000);
        expect((await api("DELETE", `/api/models/download/${id}`)).status).toBe(204);
        expect(server.services.models.downloads.get(id)!.state).toBe("cancelled");
        const partial = progressOf(id).filter((p) => p.state === "downloading" && p.downloadedBytes > 0 && p.downloadedBytes < big.length);
        expect(partial.length).toBeGreaterThan(1);
        // Speed and time left are reported while it runs.
        expect(partial.some((p) => (p.bytesPerSecond ?? 0) > 0 && p.etaSeconds != null)).toBe(true);
        expect(progressOf(id).at(-1)!.state).toBe("cancelled");
        expect(readFileSync(join(server.modelsDir, "big-stories.gguf.ipull")).length).toBeGreaterThan(0);
        const before = host.served.length;

        const resumed = (await api<{ id: string }>("POST", "/api/models/download", { uri })).body.id;
        expect(resumed).toBe(id);
        const final: DownloadProgress = await server.services.models.downloads.wait(resumed);
        expect(final.state).toBe("done");
        expect(readFileSync(join(server.modelsDir, "big-stories.gguf")).equals(big)).toBe(true);
        // The downloader probes the size with a plain GET it drops; the data comes in ranged parts, and
        // the parts finished before the cancel are not asked for again.
        const resumedParts = host.served.slice(before).filter((r) => r.ranged);
        expect(resumedParts.length).toBeGreaterThan(0);
        expect(resumedParts.reduce((n, r) => n + r.bytes, 0)).toBeLessThan(big.length);
    });

    it("reports a file that is not a model, and a missing file, as one-line errors", async () => {
        const notModel = (await api<{ id: string }>("POST", "/api/models/download", { uri: `${host.url}/not-a-model.gguf` })).body.id;
        const a = await server.services.models.downloads.wait(notModel);
        expect(a.state).toBe("error");
        expect(a.error).toMatch(/not a usable GGUF/);
        expect(existsSync(join(server.modelsDir, "not-a-model.gguf"))).toBe(false);
        const missing = (await api<{ id: string }>("POST", "/api/models/download", { uri: `${host.url}/missing.gguf` })).body.id;
        const b = await server.services.models.downloads.wait(missing);
        expect(b.state).toBe("error");
        expect(b.error).toMatch(/not found \(404\)/);
        expect((await api("POST", "/api/models/download", { uri: "ftp://example.com/x.gguf" })).status).toBe(400);
        expect((await api("DELETE", "/api/models/download/nope")).status).toBe(404);
    });

    it("fails at once, in one line, when the host cannot be reached", async () => {
        const t0 = performance.now();
        const { id } = (await api<{ id: string }>("POST", "/api/models/download", { uri: `${await closedPortUrl()}/x.gguf` })).body;
        const final = await server.services.models.downloads.wait(id);
        expect(performance.now() - t0).toBeLessThan(5000);
        expect(final.state).toBe("error");
        expect(final.error).toMatch(/^The network cannot be reached: 127\.0\.0\.1:\d+ did not answer \(ECONNREFUSED\)/);
        expect(final.error!.split("\n")).toHaveLength(1);
    });

    it("gives up on a host that never answers after the stall timeout, and Cancel ends it at once", async () => {
        const hole = await startBlackHole();
        try {
            const t0 = performance.now();
            const { id } = (await api<{ id: string }>("POST", "/api/models/download", { uri: `${hole.url}/x.gguf` })).body;
            const final = await server.services.models.downloads.wait(id);
            const took = performance.now() - t0;
            expect(took).toBeGreaterThan(1400);
            expect(took).toBeLessThan(6000);
            expect(final.state).toBe("error");
            expect(final.error).toMatch(/The network cannot be reached/);

            const second = (await api<{ id: string }>("POST", "/api/models/download", { uri: `${hole.url}/y.gguf` })).body.id;
            const t1 = performance.now();
            expect((await api("DELETE", `/api/models/download/${second}`)).status).toBe(204);
            expect(performance.now() - t1).toBeLessThan(1000);
            expect(server.services.models.downloads.get(second)!.state).toBe("cancelled");
        } finally {
            await hole.close();
        }
    });

    it("gives up on a server that stops sending mid-file after the stall timeout, keeping the partial file", async () => {
        const { id } = (await api<{ id: string }>("POST", "/api/models/download", { uri: `${host.url}/stalls.gguf` })).body;
        const t0 = performance.now();
        const final = await server.services.models.downloads.wait(id);
        expect(performance.now() - t0).toBeLessThan(15_000);
        expect(final.state).toBe("error");
        expect(final.error).toMatch(/^No data arrived from 127\.0\.0\.1:\d+ for 2 s: the network cannot be reached or the server stopped sending \(the partial file is kept/);
        expect(final.downloadedBytes).toBeGreaterThan(0);
        // ipull writes whole 5 MiB chunks: the first one is on disk, to be resumed.
        await expect.poll(() => existsSync(join(server.modelsDir, "stalls.gguf.ipull"))).toBe(true);
    });

    it("downloads a recommended pair in one go, pauses and resumes it, checks it, and it loads", async () => {
        const started = await api<PairDownloadProgress>("POST", "/api/models/download-pair", { pairId: "qwen3-8b" });
        expect(started.status).toBe(202);
        const id = started.body.id;
        await expect.poll(() => server.services.models.downloads.getPair(id)!.downloadedBytes, { timeout: 20_000, interval: 20 }).toBeGreaterThan(4_000_000);
        expect((await api("POST", `/api/models/download/${id}/pause`)).status).toBe(204);
        const paused = server.services.models.downloads.getPair(id)!;
        expect(paused.state).toBe("paused");
        expect(paused.downloadedBytes).toBeLessThan(big.length + stories.length);
        const running = pairEventsOf(id).filter((p) => p.state === "downloading");
        expect(running.some((p) => p.bytesPerSecond > 0 && p.etaSeconds != null && p.totalBytes === big.length + stories.length)).toBe(true);

        const resumed = await api<PairDownloadProgress>("POST", "/api/models/download-pair", { pairId: "qwen3-8b" });
        expect(resumed.body.id).toBe(id);
        const final = await server.services.models.downloads.waitPair(id);
        expect(final.state).toBe("ready");
        expect(pairEventsOf(id).map((p) => p.state)).toContain("verifying");
        const models = (await api<ModelsResponse>("GET", "/api/models")).body;
        const pair = models.recommended.find((p) => p.id === "qwen3-8b")!;
        expect(pair.target.path).toBe(join(server.modelsDir, pair.target.fileName));
        expect(pair.draft.path).toBe(join(server.modelsDir, pair.draft.fileName));
        const loaded = await api<{ draftModelPath: string }>("POST", "/api/models/load", { target: pair.target.path, draft: pair.draft.path });
        expect(loaded.status).toBe(200);
        expect(loaded.body.draftModelPath).toBe(pair.draft.path);
    });

    it("refuses a pair whose vocabularies differ, saying why", async () => {
        const { id } = (await api<PairDownloadProgress>("POST", "/api/models/download-pair", { pairId: "llama-3.1-8b" })).body;
        const final = await server.services.models.downloads.waitPair(id);
        expect(final.state).toBe("error");
        expect(final.error).toMatch(/^The draft cannot draft for this target: the target has 512 tokens and the draft \d+/);
        expect((await api("POST", "/api/models/download-pair", { pairId: "nope" })).status).toBe(404);
        expect((await api("POST", "/api/models/download-pair", { pair: "qwen3-8b" })).status).toBe(400);
    });
});

describe("model downloads without a model", () => {
    it("cancelling every download at close does not wait for a host that never answers", async () => {
        const hole = await startBlackHole();
        const server = await startTestServer({ load: null, services: { downloadStallTimeoutMs: 60_000 } });
        try {
            server.services.models.downloads.start(`${hole.url}/x.gguf`);
            await new Promise((r) => setTimeout(r, 300));
            const t0 = performance.now();
            await server.services.models.downloads.close();
            expect(performance.now() - t0).toBeLessThan(1500);
            expect(server.services.models.downloads.list()[0]!.state).toBe("cancelled");
        } finally {
            await server.dispose();
            await hole.close();
        }
    });
});
