import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { packageRoot } from "../../common/package-paths.ts";
import { hasRpcRuntime } from "../runtime/llama-runtime.ts";
import { probeRpcWorker, rpcAddonPath, type RpcEndpoint } from "../runtime/rpc-workers.ts";

/** A TCP server on 127.0.0.1 that does `onConnection` with every client (a worker that misbehaves), with its port. */
export async function listen(onConnection: (socket: Socket) => void): Promise<{ server: Server; port: number }> {
    const server = createServer(onConnection);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return { server, port: (server.address() as { port: number }).port };
}

/** Where `npm run build:rpc` puts llama.cpp's `ggml-rpc-server` (built from node-llama-cpp's bundled source). */
export const rpcServerPath = join(packageRoot, "native", "llama-rpc", "build", "bin", "ggml-rpc-server");

/** One rpc-server in its own network namespace, reached from here over a veth pair (not loopback). */
export interface RpcTestWorker {
    endpoint: RpcEndpoint;
    namespace: string;
    /** What the rpc-server printed so far (its devices, connections). */
    log(): string;
    /** Kills the rpc-server (SIGKILL): a worker that dies mid-answer. */
    kill(): void;
}

export interface RpcTestCluster {
    workers: RpcTestWorker[];
    /** Kills the servers and deletes the namespaces and their veth pairs. */
    dispose(): void;
}

/**
 * Why the RPC tests cannot run here (one line), or null: they need the RPC-enabled llama.cpp build,
 * our addon and the rpc-server (`npm run build:rpc`), and root with iproute2 for network namespaces.
 */
export async function rpcTestSkipReason(): Promise<string | null> {
    if (!hasRpcRuntime()) return "the RPC-enabled llama.cpp build is absent (npm run build:rpc builds it, ~20 min on 2 cores)";
    if (!existsSync(rpcAddonPath)) return "Presage's RPC addon is not built (npm run build:rpc)";
    if (!existsSync(rpcServerPath)) return `llama.cpp's rpc-server is not built at ${rpcServerPath} (npm run build:rpc)`;
    if (process.getuid?.() !== 0) return "network namespaces need root";
    try {
        execFileSync("ip", ["netns", "list"], { stdio: "ignore" });
    } catch {
        return "iproute2's `ip netns` is not available";
    }
    return null;
}

function ip(...args: string[]): void {
    execFileSync("ip", args, { stdio: ["ignore", "ignore", "pipe"] });
}

/** Namespaces left by a test process that died before its dispose (named after its pid). */
function removeStaleNamespaces(): void {
    const names = execFileSync("ip", ["netns", "list"], { encoding: "utf8" }).split("\n").map((l) => l.split(" ")[0]!).filter((n) => /^presage-rpc-\d+-\d+$/.test(n));
    for (const name of names) {
        const pid = Number(name.split("-")[2]);
        let alive = true;
        try {
            process.kill(pid, 0);
        } catch {
            alive = false;
        }
        if (!alive) {
            try {
                ip("netns", "del", name);
            } catch {
                // already gone
            }
        }
    }
}

/**
 * Starts `count` rpc-servers, each in a network namespace of its own with a veth pair to this one
 * (10.x.y.2 there, 10.x.y.1 here), and waits until each answers llama.cpp's HELLO. The servers listen
 * only inside their namespaces, on addresses no other machine can route to.
 */
let nextWorker = 0;

export async function startRpcCluster(count: number, { threads = 1 } = {}): Promise<RpcTestCluster> {
    removeStaleNamespaces();
    const subnet = (process.pid % 200) + 20;
    const namespaces: string[] = [];
    const servers: ChildProcess[] = [];
    const dispose = () => {
        for (const server of servers) server.kill("SIGKILL");
        for (const name of namespaces) {
            try {
                ip("netns", "del", name); // deletes the veth pair with it
            } catch {
                // already gone
            }
        }
    };
    try {
        const workers: RpcTestWorker[] = [];
        for (let k = 0; k < count; k++) {
            // Numbered across clusters: an rpc-server serves one client at a time, so a test that needs
            // workers of its own while another client holds the first ones starts a second cluster.
            const i = nextWorker++;
            const name = `presage-rpc-${process.pid}-${i}`;
            const hostSide = `prh${process.pid % 1_000_000}x${i}`;
            const nsSide = `prn${process.pid % 1_000_000}x${i}`;
            const [here, there] = [`10.${subnet}.${(i % 250) + 1}.1`, `10.${subnet}.${(i % 250) + 1}.2`];
            ip("netns", "add", name);
            namespaces.push(name);
            ip("link", "add", hostSide, "type", "veth", "peer", "name", nsSide);
            ip("link", "set", nsSide, "netns", name);
            ip("addr", "add", `${here}/24`, "dev", hostSide);
            ip("link", "set", hostSide, "up");
            ip("netns", "exec", name, "ip", "addr", "add", `${there}/24`, "dev", nsSide);
            ip("netns", "exec", name, "ip", "link", "set", nsSide, "up");
            ip("netns", "exec", name, "ip", "link", "set", "lo", "up");
            const port = 50052;
            const server = spawn("ip", ["netns", "exec", name, rpcServerPath, "-H", there, "-p", String(port), "-t", String(threads)], { stdio: ["ignore", "pipe", "pipe"] });
            servers.push(server);
            let log = "";
            server.stdout!.on("data", (d: Buffer) => (log += d.toString()));
            server.stderr!.on("data", (d: Buffer) => (log += d.toString()));
            const endpoint: RpcEndpoint = { host: there, port, text: `${there}:${port}` };
            workers.push({ endpoint, namespace: name, log: () => log, kill: () => server.kill("SIGKILL") });
        }
        for (const worker of workers) {
            const deadline = Date.now() + 15_000;
            for (;;) {
                try {
                    await probeRpcWorker(worker.endpoint, 1000);
                    break;
                } catch (err) {
                    if (Date.now() > deadline) throw new Error(`rpc-server in ${worker.namespace} did not start: ${(err as Error).message}\n${worker.log()}`);
                    await new Promise((r) => setTimeout(r, 100));
                }
            }
        }
        return { workers, dispose };
    } catch (err) {
        dispose();
        throw err;
    }
}
