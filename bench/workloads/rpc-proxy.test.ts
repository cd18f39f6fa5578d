import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PresageEngine } from "../../native-models/engine/presage-engine.ts";
import { findStoriesModel } from "../../native-models/models-dir.ts";
import { rpcTestSkipReason, startRpcCluster, type RpcTestCluster } from "../../native-models/testing/rpc-cluster.ts";
import { DelayProxy } from "./rpc.ts";

// The rpc bench workloads' path, on stories260K: workers reached through the delaying proxy.
const storiesPath = findStoriesModel();
const why = storiesPath == null ? "stories260K.gguf is missing" : await rpcTestSkipReason();

// CI builds the RPC binaries (`npm run build:rpc` in .ci/run): there, a missing piece fails instead of skipping.
if (why != null && process.env.CI === "true")
    describe("the rpc workloads' delaying proxy", () => {
        throw new Error(`${why}: CI builds it (npm run build:rpc)`);
    });
else if (why != null) {
    console.warn(`SKIPPED "the rpc workloads' delaying proxy": ${why}`);
    describe.skip("the rpc workloads' delaying proxy", () => undefined);
} else
    describe("the rpc workloads' delaying proxy", () => {
        let cluster: RpcTestCluster;
        let proxies: DelayProxy[];
        let engine: PresageEngine;
        beforeAll(async () => {
            cluster = await startRpcCluster(2);
            proxies = await Promise.all(cluster.workers.map((w) => DelayProxy.start(w.endpoint)));
            engine = await PresageEngine.load({ modelPath: storiesPath!, threads: 1, calibrate: false, rpcWorkers: proxies.map((p) => p.endpoint) });
        }, 120_000);
        afterAll(async () => {
            await engine?.dispose();
            for (const p of proxies ?? []) p.close();
            cluster?.dispose();
        });

        it("passes llama.cpp's RPC through unchanged, and at 1 ms per message each token waits for it", async () => {
            expect(engine.info.rpc!.devices.map((d) => d.layers)).toEqual([3, 3]);
            const prompt = "Once upon a time";
            const direct = await engine.generate({ prompt, maxTokens: 24 });
            await Promise.all(proxies.map((p) => p.setDelay(1)));
            const t = performance.now();
            const delayed = await engine.generate({ prompt, maxTokens: 24 });
            const msPerToken = (performance.now() - t) / 24;
            await Promise.all(proxies.map((p) => p.setDelay(0)));
            expect(delayed.tokens).toEqual(direct.tokens);
            // A token crosses to both workers and back: at least two delayed messages each way.
            expect(msPerToken).toBeGreaterThan(4);
        }, 120_000);
    });
