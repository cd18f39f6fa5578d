import { copyFileSync, truncateSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import type { AppState, EngineInfo, RpcWorkersStatus, Settings } from "../core/app-api.ts";
import { hasRpcRuntime } from "../native-models/runtime/llama-runtime.ts";
import { rpcTestSkipReason, startRpcCluster, type RpcTestCluster } from "../native-models/testing/rpc-cluster.ts";
import { describeWithStories } from "../native-models/testing/stories.ts";
import { callAppApi } from "./testing/app-api-client.ts";
import { startTestServer, type TestServer } from "./testing/test-server.ts";

describe("the remote workers setting over HTTP", () => {
    let server: TestServer;
    beforeEach(async () => {
        server = await startTestServer({ load: null });
    });
    afterEach(() => server?.dispose());

    it("keeps the workers as llama.cpp takes them: trimmed, IPv6 in brackets, no repeats; none by default", async () => {
        expect((await callAppApi<AppState>(server, "GET", "/api/state")).body.settings.rpcWorkers).toEqual([]);
        const put = await callAppApi<Settings>(server, "PUT", "/api/settings", { rpcWorkers: [" 10.0.0.5:50052", "[fd00::1]:50052", "10.0.0.5:50052", "gpu-box.local:50053"] });
        expect(put.status).toBe(200);
        expect(put.body.rpcWorkers).toEqual(["10.0.0.5:50052", "[fd00::1]:50052", "gpu-box.local:50053"]);
        expect((await callAppApi<AppState>(server, "GET", "/api/state")).body.settings.rpcWorkers).toEqual(["10.0.0.5:50052", "[fd00::1]:50052", "gpu-box.local:50053"]);
    });

    it("refuses a bad worker in one line naming it, and keeps the list as it was", async () => {
        await callAppApi(server, "PUT", "/api/settings", { rpcWorkers: ["10.0.0.5:50052"] });
        for (const [entry, says] of [["10.0.0.6", '"10.0.0.6" is not a worker address: write host:port'], ["10.0.0.6:70000", '"10.0.0.6:70000" is not a worker address'], ["[1:2:3]:50052", "1:2:3 is not an IPv6 address"], ["[zz::1]:50052", "\"[zz::1]:50052\" is not a worker address"]] as const) {
            const put = await callAppApi<{ error: { message: string; code: string } }>(server, "PUT", "/api/settings", { rpcWorkers: ["10.0.0.7:50052", entry] });
            expect(put.status).toBe(400);
            expect(put.body.error.code).toBe("invalid-request");
            expect(put.body.error.message).toContain(says);
            expect(put.body.error.message).not.toContain("\n");
        }
        const many = await callAppApi<{ error: { message: string } }>(server, "PUT", "/api/settings", { rpcWorkers: Array.from({ length: 17 }, (_, i) => `10.0.0.${i + 1}:50052`) });
        expect(many.status).toBe(400);
        expect((await callAppApi<AppState>(server, "GET", "/api/state")).body.settings.rpcWorkers).toEqual(["10.0.0.5:50052"]);
    });

    it("warns about each worker off private networks, and says what is missing without the RPC build", async () => {
        await callAppApi(server, "PUT", "/api/settings", { rpcWorkers: ["203.0.113.9:50052", "10.0.0.5:50052", "192.168.1.20:50052", "[2001:db8::5]:50052", "[fd00::1]:50052", "127.0.0.1:50052"] });
        const status = await callAppApi<RpcWorkersStatus>(server, "GET", "/api/rpc-workers");
        expect(status.status).toBe(200);
        expect(status.body.warnings).toHaveLength(2);
        expect(status.body.warnings[0]).toMatch(/^Worker 203\.0\.113\.9:50052 \(203\.0\.113\.9\) is not on a private or loopback address: llama\.cpp's rpc-server is unauthenticated/);
        expect(status.body.warnings[1]).toMatch(/^Worker \[2001:db8::5\]:50052 /);
        // This machine's build decides which: both answers are checked across CI (built) and a plain install.
        if (hasRpcRuntime()) expect(status.body.missing).toBeNull();
        else expect(status.body.missing).toMatch(/^llama\.cpp's RPC backend.* not built here .*npm run build:rpc/);
    });
});

// Loaded through the app: the setting's workers (two rpc-servers in network namespaces) hold the target.
const why = await rpcTestSkipReason();
describeWithStories("a model loaded with the setting's remote workers", (storiesPath) => {
    if (why != null && process.env.CI === "true")
        it("needs the RPC build", () => {
            throw new Error(`${why}: CI builds it (npm run build:rpc)`);
        });
    else if (why != null) {
        console.warn(`SKIPPED "a model loaded with the setting's remote workers": ${why}`);
        it.skip("needs the RPC build", () => undefined);
    } else {
        let cluster: RpcTestCluster;
        let server: TestServer;
        afterAll(async () => {
            await server?.dispose();
            cluster?.dispose();
        });
        it("splits the target across them from the next load, and the Models view's info shows each with its layers and memory", async () => {
            cluster = await startRpcCluster(2);
            const workers = cluster.workers.map((w) => w.endpoint.text);
            server = await startTestServer({ modelFiles: [storiesPath] });
            const before = (await callAppApi<AppState>(server, "GET", "/api/state")).body.engine!;
            expect(before.rpc).toBeUndefined();
            expect((await callAppApi<Settings>(server, "PUT", "/api/settings", { rpcWorkers: workers })).status).toBe(200);
            // Not before the next load: the loaded model is unchanged.
            expect((await callAppApi<AppState>(server, "GET", "/api/state")).body.engine!.rpc).toBeUndefined();
            const load = await callAppApi<EngineInfo>(server, "POST", "/api/models/load", { target: before.modelPath });
            expect(load.status).toBe(200);
            const devices = load.body.rpc!.devices;
            expect(devices.map((d) => d.endpoint)).toEqual(workers);
            for (const d of devices) {
                expect(d.layers).toBeGreaterThan(0);
                expect(d.totalBytes).toBeGreaterThan(0);
                expect(d.freeBytes).toBeLessThanOrEqual(d.totalBytes);
            }
            expect((await callAppApi<RpcWorkersStatus>(server, "GET", "/api/rpc-workers")).body).toEqual({ missing: null, warnings: [] });
            const answer = await fetch(`${server.url}/v1/completions`, {
                method: "POST", headers: { "x-presage-token": server.token, "content-type": "application/json" },
                body: JSON.stringify({ prompt: "Once upon a time", max_tokens: 8, temperature: 0 })
            });
            expect(answer.status).toBe(200);
            expect(((await answer.json()) as { choices: { text: string }[] }).choices[0]!.text.length).toBeGreaterThan(0);
        }, 120_000);

        it("refuses a target that fits nowhere in one line of ours, keeping the loaded model", async () => {
            // stories260K's header with 1 TiB of weights behind it (a sparse file): more than this machine and the workers hold.
            const huge = join(server.modelsDir, "huge.gguf");
            copyFileSync(storiesPath, huge);
            truncateSync(huge, 2 ** 40);
            const loaded = (await callAppApi<AppState>(server, "GET", "/api/state")).body.engine!.modelPath;
            const load = await callAppApi<{ error: { message: string; code: string } }>(server, "POST", "/api/models/load", { target: huge });
            expect(load.status).toBe(400);
            expect(load.body.error.message).toMatch(/^huge\.gguf fits nowhere: its weights take 1024\.0 GiB, and the 2 workers that answered have [\d.]+ GiB free, with [\d.]+ GiB free here\.$/);
            expect((await callAppApi<AppState>(server, "GET", "/api/state")).body.engine!.modelPath).toBe(loaded);
        }, 120_000);
    }
});
