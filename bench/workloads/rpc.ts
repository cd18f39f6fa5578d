import { Worker } from "node:worker_threads";
import { PresageEngine } from "../../native-models/engine/presage-engine.ts";
import { findStoriesModel } from "../../native-models/models-dir.ts";
import { rpcTestSkipReason, startRpcCluster, type RpcTestCluster } from "../../native-models/testing/rpc-cluster.ts";
import { ensureHeavyTwin } from "../twins/heavy-twin-cache.ts";
import type { Workload } from "../workload.ts";
import { heavyPerturb } from "./heavy.ts";
import { storyOpenings } from "./story.ts";

/**
 * The proxy's own thread: llama.cpp talks to workers synchronously from this process's main thread
 * (registering one, asking its memory), so a proxy on that thread's event loop would wait for a call
 * that waits for it. Timers of one duration fire in the order they were set, so each direction's bytes
 * stay in order.
 */
const proxyThread = `
const { parentPort, workerData } = require("node:worker_threads");
const net = require("node:net");
let delayMs = 0;
parentPort.on("message", (message) => {
    delayMs = message.delayMs;
    parentPort.postMessage({ delayMs });
});
const pass = (from, to) => {
    from.on("data", (chunk) => {
        if (delayMs > 0) setTimeout(() => to.writable && to.write(chunk), delayMs);
        else to.write(chunk);
    });
    from.on("close", () => setTimeout(() => to.destroy(), delayMs));
    from.on("error", () => to.destroy());
};
const server = net.createServer((client) => {
    const upstream = net.connect(workerData.target);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    pass(client, upstream);
    pass(upstream, client);
});
server.listen(0, "127.0.0.1", () => parentPort.postMessage({ port: server.address().port }));
`;

/**
 * A TCP proxy on 127.0.0.1 that holds every chunk for a set delay in each direction before passing it on
 * (a LAN's latency: the kernel here has no netem); at 0 it passes chunks on at once.
 */
export class DelayProxy {
    private constructor(private readonly thread: Worker, readonly endpoint: string) {}

    static async start(target: { host: string; port: number }): Promise<DelayProxy> {
        const thread = new Worker(proxyThread, { eval: true, workerData: { target: { host: target.host, port: target.port } } });
        thread.unref();
        const port = await new Promise<number>((resolve, reject) => {
            thread.once("message", (m: { port: number }) => resolve(m.port));
            thread.once("error", reject);
        });
        return new DelayProxy(thread, `127.0.0.1:${port}`);
    }

    /** Milliseconds each chunk waits in each direction from now on. */
    async setDelay(delayMs: number): Promise<void> {
        const ack = new Promise((resolve) => this.thread.once("message", resolve));
        this.thread.postMessage({ delayMs });
        await ack;
    }

    close(): void {
        void this.thread.terminate();
    }
}

/**
 * The workers of both RPC workloads, started once per process: llama.cpp cannot forget a registered
 * worker, so the two workloads share the same ones (through the same proxies, delayed or not).
 */
let shared: Promise<{ cluster: RpcTestCluster; proxies: DelayProxy[] }> | null = null;

function sharedWorkers(): Promise<{ cluster: RpcTestCluster; proxies: DelayProxy[] }> {
    shared ??= (async () => {
        // Each worker gets one thread: with the local draft, that is this machine's two cores.
        const cluster = await startRpcCluster(2, { threads: 1 });
        const proxies = await Promise.all(cluster.workers.map((w) => DelayProxy.start(w.endpoint)));
        process.once("exit", () => {
            for (const p of proxies) p.close();
            cluster.dispose();
        });
        return { cluster, proxies };
    })();
    return shared;
}

/**
 * The 1.5B twin split across two rpc-servers, each in its own network namespace (reached over a veth
 * pair), stories260K as the local draft: plain one-token decoding over RPC is the baseline, each token
 * a round trip per worker. With `delayMs`, each message waits that long in each direction (a LAN).
 * Not in the default run: it needs root and `npm run build:rpc`, and it loads the RPC build of
 * llama.cpp into the bench's process beside the prebuilt one (`presage bench --workloads rpc,rpc-lan`).
 */
function rpcWorkload(name: string, delayMs: number): Workload {
    return {
        name,
        description: `the 1.5B heavy twin (Q8_0, 1.6 GB) split across two llama.cpp RPC workers in network namespaces${delayMs > 0 ? `, each message delayed ${delayMs} ms each way by a proxy (a LAN)` : ""}, stories260K as the local draft`,
        temperatures: [0],
        async prepare({ quick, cacheDir, log }) {
            const small = findStoriesModel();
            if (small == null) throw new Error("stories260K.gguf is missing");
            const why = await rpcTestSkipReason();
            if (why != null) throw new Error(why);
            log(`# ${name}: building or reusing the 1.5B Q8_0 heavy twin (1.6 GB, cached)`);
            const target = await ensureHeavyTwin({ from: small, params: 1500e6, perturb: heavyPerturb, seed: 1, type: "q8_0", cacheDir });
            const { proxies } = await sharedWorkers();
            await Promise.all(proxies.map((p) => p.setDelay(delayMs)));
            const engine = await PresageEngine.load({ modelPath: target, draftModelPath: small, cacheDir, contextSize: 512, threads: 1, rpcWorkers: proxies.map((p) => p.endpoint) });
            const split = (engine.info.rpc?.devices ?? []).map((d) => `${d.endpoint} ${d.layers} layers (${((d.modelBytes ?? 0) / 2 ** 30).toFixed(2)} GiB)`).join(", ");
            return {
                engine,
                prompts: storyOpenings.slice(0, quick ? 1 : 2),
                maxTokens: quick ? 24 : 32,
                rounds: quick ? 1 : 3,
                rows: [
                    { name: "draft", strategies: ["draft"] },
                    { name: "auto", strategies: ["auto"] },
                    { name: "oracle", strategies: [], oracle: true, maxDraft: 8 }
                ],
                notes: [`plain step ${engine.cost.plainTokenMs.toFixed(1)} ms over RPC`, `split: ${engine.info.gpuLayers} of ${engine.info.layers} layers on the workers: ${split}`],
                dispose: () => engine.dispose()
            };
        }
    };
}

export const rpcWorkloadDirect = rpcWorkload("rpc", 0);
export const rpcWorkloadLan = rpcWorkload("rpc-lan", 1);
/** The workloads run only when named. */
export const rpcWorkloads: Workload[] = [rpcWorkloadDirect, rpcWorkloadLan];
