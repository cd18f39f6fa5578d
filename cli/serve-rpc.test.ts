import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, describe, expect, it } from "vitest";
import { findStoriesModel, packageRoot } from "../native-models/models-dir.ts";
import { rpcTestSkipReason, startRpcCluster } from "../native-models/testing/rpc-cluster.ts";
import { readSseEvents, type SseEvent } from "../server/testing/sse-client.ts";

const dir = mkdtempSync(join(tmpdir(), "presage-serve-rpc-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const storiesPath = findStoriesModel();
const why = storiesPath == null ? "stories260K.gguf is missing" : await rpcTestSkipReason();

// CI builds the RPC binaries (`npm run build:rpc` in .ci/run): there, a missing piece fails instead of skipping.
if (why != null && process.env.CI === "true")
    describe("presage serve --rpc", () => {
        throw new Error(`${why}: CI builds it (npm run build:rpc)`);
    });
else if (why != null) {
    console.warn(`SKIPPED "presage serve --rpc": ${why}`);
    describe.skip("presage serve --rpc", () => undefined);
} else
    describe("presage serve --rpc (two workers in network namespaces)", () => {
        it("answers with the target split across the workers; a worker killed mid-answer ends that answer in one line, and the next loads without it", async () => {
            const cluster = await startRpcCluster(2);
            const [first, second] = cluster.workers as [typeof cluster.workers[0], typeof cluster.workers[0]];
            const child = spawn(process.execPath, [join(packageRoot, "bin", "presage.js"), "serve", "--port", "0", "--db", join(dir, "r.db"), "--model", storiesPath!, "--threads", "1", "--no-build",
                "--rpc", cluster.workers.map((w) => w.endpoint.text).join(",")], { cwd: dir, env: { ...process.env, PRESAGE_DATA_DIR: dir }, stdio: ["ignore", "pipe", "pipe"] });
            let out = "";
            let err = "";
            child.stderr.on("data", (d) => (err += d));
            const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
            try {
                const appUrl = await new Promise<string>((resolve, reject) => {
                    child.stdout.on("data", (d) => {
                        out += d;
                        const m = /chat window: (http:\/\/127\.0\.0\.1:\d+\/#token=[\w-]+)/.exec(out);
                        if (m) resolve(m[1]!);
                    });
                    void exited.then((code) => reject(new Error(`serve exited with ${code}: ${err}`)));
                });
                const base = new URL(appUrl).origin;
                const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: "none", maxRetries: 0 });
                const answer = await client.completions.create({ model: "stories260K", prompt: "Once upon a time", max_tokens: 24, temperature: 0 });
                expect(answer.usage!.completion_tokens).toBe(24);
                // The app's state says where the target is: every layer on the workers, each holding some.
                const token = new URL(appUrl).hash.replace("#token=", "");
                const state = await (await fetch(`${base}/api/state`, { headers: { "x-presage-token": token } })).json() as { engine: { gpuLayers: number; layers: number; rpc: { devices: { endpoint: string; layers: number; modelBytes: number }[] } } };
                expect(state.engine.gpuLayers).toBe(state.engine.layers);
                expect(state.engine.rpc.devices.map((d) => d.endpoint)).toEqual(cluster.workers.map((w) => w.endpoint.text));
                for (const d of state.engine.rpc.devices) expect([d.layers > 0, d.modelBytes > 0], d.endpoint).toEqual([true, true]);

                const stream = await fetch(`${base}/v1/chat/completions`, {
                    method: "POST",
                    headers: { "content-type": "application/json" },
                    body: JSON.stringify({ model: "stories260K", stream: true, max_tokens: 400, messages: [{ role: "user", content: "Once upon a time" }] })
                });
                expect(stream.status).toBe(200);
                let killedAt = 0;
                const events: SseEvent[] = await readSseEvents(stream.body!, () => {
                    if (killedAt === 0) {
                        killedAt = performance.now();
                        first.kill();
                    }
                });
                // llama.cpp aborts the engine's process when a worker's connection breaks; the server stays.
                expect(performance.now() - killedAt).toBeLessThan(5000);
                expect(JSON.parse(events.find((e) => e.event === "error")!.data).error.message).toBe("The model stopped unexpectedly; reloading.");
                expect(events.at(-1)!.data).toBe("[DONE]");
                const next = await client.completions.create({ model: "stories260K", prompt: "Once upon a time", max_tokens: 8, temperature: 0 });
                expect(next.usage!.completion_tokens).toBe(8);
                expect(err).toContain(`presage: worker ${first.endpoint.text} refused the connection (no rpc-server listens there); left out.`);
                expect(second.log().match(/Accepted client connection/g)!.length).toBeGreaterThanOrEqual(3);
                expect(child.exitCode).toBeNull();
            } finally {
                child.kill("SIGTERM");
                await exited;
                cluster.dispose();
            }
        }, 180_000);
    });
