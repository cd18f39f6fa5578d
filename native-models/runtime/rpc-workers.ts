import { lookup } from "node:dns/promises";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { isIP, connect } from "node:net";
import { freemem } from "node:os";
import { basename, join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { LlamaLogLevel, type Llama, type LlamaModel } from "node-llama-cpp";
import { packageRoot, unpackedPath } from "../../common/package-paths.ts";
import { EngineError } from "../engine-error.ts";

/**
 * llama.cpp's RPC backend: remote workers (`ggml-rpc-server`, one per machine) that hold some of a
 * model's layers. llama.cpp itself splits the layers across every registered device; Presage only
 * registers the workers in the RPC-enabled llama.cpp build before the target loads.
 *
 * llama.cpp's warning applies unchanged: an rpc-server is unauthenticated and must never be reachable
 * from an open network.
 */

/** The CMake options of the RPC-enabled llama.cpp build (`npm run build:rpc`); the runtime is found by them. */
export const rpcCmakeOptions = Object.freeze({ GGML_RPC: "ON" });

/** How long a worker has to accept a connection and answer llama.cpp's HELLO. */
export const rpcProbeTimeoutMs = 5000;

/** The RPC protocol major version of the bundled llama.cpp (ggml-rpc.h RPC_PROTO_MAJOR_VERSION). */
const rpcProtocolMajor = 6;
/** ggml-rpc's command number of HELLO, fixed across protocol versions ("must be always 14"). */
const rpcCommandHello = 14;
/** sizeof(rpc_msg_hello_req): the transport capabilities (RPC_CONN_CAPS_SIZE); all zero = plain TCP. */
const rpcHelloRequestBytes = 24;
/** sizeof(rpc_msg_hello_rsp): major, minor, patch, padding, then the server's capabilities. */
const rpcHelloResponseBytes = 4 + 24;

/** A worker's address as the user wrote it. */
export interface RpcEndpoint {
    host: string;
    port: number;
    /** `host:port`, as llama.cpp's `--rpc` takes it (IPv6 in brackets). */
    text: string;
}

/** A device a worker offers, as llama.cpp registered it. */
export interface RpcDevice {
    /** llama.cpp's name for it (`RPC0`, `RPC1`, …). */
    name: string;
    /** The worker's `host:port`. */
    endpoint: string;
    freeBytes: number;
    totalBytes: number;
    /** Layers of the target on this device (the output layer counts as one, as in `gpuLayers`), when llama.cpp said. */
    layers?: number;
    /** Bytes of the target's weights on this device, when llama.cpp said. */
    modelBytes?: number;
}

/** llama.cpp's log levels from the most to the least severe. */
const logOrder: readonly LlamaLogLevel[] = [LlamaLogLevel.disabled, LlamaLogLevel.fatal, LlamaLogLevel.error, LlamaLogLevel.warn, LlamaLogLevel.info, LlamaLogLevel.log, LlamaLogLevel.debug];

interface LogSink {
    capture: ((message: string) => void) | null;
}
const logSinks = new WeakMap<Llama, LogSink>();

/**
 * The runtime's logger, replaced once: it hands every line to the capture in progress and passes on
 * only what the runtime's own level lets through (a load's debug lines arrive after the level is back).
 */
function logSink(llama: Llama): LogSink {
    let sink = logSinks.get(llama);
    if (sink == null) {
        const s: LogSink = { capture: null };
        const { logger, logLevel } = llama;
        llama.logger = (level, message) => {
            s.capture?.(message);
            if (logOrder.indexOf(level) <= logOrder.indexOf(logLevel)) logger(level, message);
        };
        logSinks.set(llama, (sink = s));
    }
    return sink;
}

/**
 * Parses a comma list (or list) of `host:port` workers. A bad entry is one line naming it; an empty
 * list is no workers.
 */
export function parseRpcEndpoints(list: string | readonly string[]): RpcEndpoint[] {
    const entries = (typeof list === "string" ? list.split(",") : list).map((e) => e.trim()).filter((e) => e !== "");
    const endpoints: RpcEndpoint[] = [];
    for (const entry of entries) {
        const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^\s:[\]]+)):(\d{1,5})$/.exec(entry);
        const port = match == null ? NaN : Number(match[3]);
        if (match == null || !(port >= 1 && port <= 65535))
            throw new EngineError("rpc-worker", `"${entry}" is not a worker address: write host:port, e.g. 192.168.1.20:50052.`);
        const host = match[1] ?? match[2]!;
        if (match[1] != null && isIP(host) !== 6) throw new EngineError("rpc-worker", `"${entry}" is not a worker address: ${host} is not an IPv6 address.`);
        const text = isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
        if (!endpoints.some((e) => e.text === text)) endpoints.push({ host, port, text });
    }
    if (endpoints.length > 16) throw new EngineError("rpc-worker", `${endpoints.length} workers: llama.cpp's RPC backend takes at most 16.`);
    return endpoints;
}

/** Whether an IP address is loopback, private (RFC 1918, unique local) or link-local: not the open Internet. */
export function isPrivateAddress(address: string): boolean {
    if (isIP(address) === 4) {
        const [a, b] = address.split(".").map(Number) as [number, number];
        return a === 127 || a === 10 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254);
    }
    if (isIP(address) === 6) {
        const lower = address.toLowerCase();
        if (lower === "::1") return true;
        const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
        if (mapped != null) return isPrivateAddress(mapped[1]!);
        return /^f[cd]/.test(lower) || /^fe[89ab]/.test(lower);
    }
    return false;
}

/**
 * The warning for a worker that is not on a private or loopback address (null when it is): its
 * rpc-server would take commands from anyone who reaches it.
 */
export async function rpcExposureWarning(endpoint: RpcEndpoint): Promise<string | null> {
    let address = endpoint.host;
    if (isIP(address) === 0) {
        try {
            address = (await lookup(endpoint.host)).address;
        } catch {
            return null; // the probe says it cannot be reached
        }
    }
    if (isPrivateAddress(address)) return null;
    return `Worker ${endpoint.text} (${address}) is not on a private or loopback address: llama.cpp's rpc-server is unauthenticated, and anyone who reaches it can run code on its backend and read what it holds. Use it only on a network you trust.`;
}

/**
 * Checks that a llama.cpp rpc-server answers at `endpoint` within `timeoutMs`: connects and exchanges
 * ggml-rpc's HELLO, then hangs up. Needed because llama.cpp aborts the whole process when it cannot
 * connect to a worker or the handshake fails. Resolves to the server's protocol version.
 */
export function probeRpcWorker(endpoint: RpcEndpoint, timeoutMs = rpcProbeTimeoutMs): Promise<string> {
    return new Promise((resolve, reject) => {
        const fail = (why: string) => {
            socket.destroy();
            reject(new EngineError("rpc-worker", `worker ${endpoint.text} ${why}`));
        };
        const socket = connect({ host: endpoint.host, port: endpoint.port });
        const timer = setTimeout(() => fail(`did not answer within ${Math.round(timeoutMs / 1000)} s`), timeoutMs);
        let received = Buffer.alloc(0);
        socket.on("connect", () => {
            const hello = Buffer.alloc(1 + 8 + rpcHelloRequestBytes);
            hello[0] = rpcCommandHello;
            hello.writeBigUInt64LE(BigInt(rpcHelloRequestBytes), 1);
            socket.write(hello);
        });
        socket.on("data", (data) => {
            received = Buffer.concat([received, data]);
            if (received.length < 8 + rpcHelloResponseBytes) return;
            clearTimeout(timer);
            socket.destroy();
            if (received.readBigUInt64LE(0) !== BigInt(rpcHelloResponseBytes))
                return reject(new EngineError("rpc-worker", `worker ${endpoint.text} is not a llama.cpp rpc-server of this version (its answer to HELLO has another size)`));
            const [major, minor, patch] = [received[8]!, received[9]!, received[10]!];
            if (major !== rpcProtocolMajor)
                return reject(new EngineError("rpc-worker", `worker ${endpoint.text} speaks RPC protocol ${major}.${minor}.${patch}, this llama.cpp speaks ${rpcProtocolMajor}.x: run the rpc-server built from the same llama.cpp (npm run build:rpc)`));
            resolve(`${major}.${minor}.${patch}`);
        });
        socket.on("error", (err: NodeJS.ErrnoException) => {
            clearTimeout(timer);
            fail(err.code === "ECONNREFUSED" ? "refused the connection (no rpc-server listens there)"
                : err.code === "ENOTFOUND" || err.code === "EAI_AGAIN" ? `cannot be found (${err.code})`
                : `cannot be reached (${err.code ?? err.message})`);
        });
        socket.on("close", () => {
            clearTimeout(timer);
            if (received.length < 8 + rpcHelloResponseBytes) fail("closed the connection before answering: is it a llama.cpp rpc-server, and is another client using it?");
        });
    });
}

interface RpcAddon {
    addServer(bindingPath: string, endpoint: string): RpcDevice[];
    devices(bindingPath: string): RpcDevice[];
}

/** Presage's addon that registers workers (native-models/runtime/rpc, built by `npm run build:rpc`). */
export const rpcAddonPath = unpackedPath(join(packageRoot, "native-models", "runtime", "rpc", "build", "Release", "presage_rpc.node"));
let addon: RpcAddon | null = null;

function loadAddon(): RpcAddon {
    if (addon != null) return addon;
    if (!existsSync(rpcAddonPath))
        throw new EngineError("backend-unavailable", "Remote workers need Presage's RPC addon, which is not built: run `npm run build:rpc`.");
    addon = createRequire(import.meta.url)(rpcAddonPath) as RpcAddon;
    return addon;
}

/**
 * The RPC-enabled node-llama-cpp binding `npm run build:rpc` made (its llama-addon.node), or null:
 * node-llama-cpp builds into `llama/localBuilds/<platform>-<arch>-<hash of its CMake options>/Release`
 * and does not say where it loaded a binding from. Looks on disk only: loading a binding to find out
 * would set its global logger.
 */
export function findRpcBinding(): string | null {
    // node-llama-cpp's package.json is not exported: its folder is the one its entry point lies in.
    const entry = fileURLToPath(import.meta.resolve("node-llama-cpp"));
    const localBuilds = join(entry.slice(0, entry.lastIndexOf(`${sep}node-llama-cpp${sep}`) + `${sep}node-llama-cpp`.length), "llama", "localBuilds");
    for (const folder of existsSync(localBuilds) ? readdirSync(localBuilds) : []) {
        const release = join(localBuilds, folder, "Release");
        const metadataFile = join(release, "_nlcBuildMetadata.json");
        if (!existsSync(metadataFile) || !existsSync(join(release, "llama-addon.node"))) continue;
        const metadata = JSON.parse(readFileSync(metadataFile, "utf8")) as { buildOptions?: { customCmakeOptions?: Record<string, string>; gpu?: unknown } };
        const options = metadata.buildOptions?.customCmakeOptions ?? {};
        // Our addon dlopens it: in the packaged app, from outside the asar archive.
        if (Object.keys(options).length === 1 && options.GGML_RPC === "ON" && metadata.buildOptions?.gpu === false) return unpackedPath(join(release, "llama-addon.node"));
    }
    return null;
}

/** The binding `llama` loaded, which must be the RPC build (the addon checks that it is loaded). */
function rpcBindingPath(llama: Llama): string {
    if (llama.cmakeOptions.GGML_RPC !== "ON")
        throw new EngineError("backend-unavailable", "This llama.cpp build has no RPC backend: remote workers need the one `npm run build:rpc` makes.");
    const path = findRpcBinding();
    if (path == null) throw new EngineError("backend-unavailable", "The RPC-enabled llama.cpp build is not where node-llama-cpp keeps it: run `npm run build:rpc` again.");
    return path;
}

/**
 * The workers registered with one RPC-enabled llama.cpp runtime. Registration lasts as long as the
 * process (ggml has no call to remove a device), so every model loaded later on that runtime is split
 * across the same workers; a different list needs a new process.
 */
export class RpcWorkers {
    private constructor(
        private readonly bindingPath: string,
        /** The workers in use, in the order given. */
        readonly endpoints: readonly RpcEndpoint[],
        /** One line per worker left out (did not answer, not an rpc-server) and per exposed worker. */
        readonly notes: readonly string[]
    ) {}

    private static registered = new WeakMap<Llama, Set<string>>();
    /** Layers per device name and weight bytes per endpoint of the target loaded through `place`. */
    private placement: { layers: Map<string, number>; modelBytes: Map<string, number> } | null = null;

    /**
     * Loads the target while reading where llama.cpp puts it: its log says which device each layer is
     * assigned to (at debug level, so the level is raised for the load only) and each device's weights.
     */
    async place(llama: Llama, load: () => Promise<LlamaModel>): Promise<LlamaModel> {
        const sink = logSink(llama);
        const layers = new Map<string, number>();
        const modelBytes = new Map<string, number>();
        const endpointOf = new Map(loadAddon().devices(this.bindingPath).map((d) => [d.name, d.endpoint]));
        let assigned = 0;
        sink.capture = (message) => {
            const layer = /load_tensors: layer +\d+ assigned to device (\S+?),/.exec(message);
            if (layer != null) {
                layers.set(layer[1]!, (layers.get(layer[1]!) ?? 0) + 1);
                assigned++;
            }
            const buffer = /load_tensors: +RPC\d*\[(.+?)\] model buffer size = +([\d.]+) MiB/.exec(message);
            if (buffer != null) modelBytes.set(buffer[1]!, Math.round(Number(buffer[2]) * 2 ** 20));
        };
        const level = llama.logLevel;
        llama.logLevel = LlamaLogLevel.debug;
        try {
            const model = await load();
            // The log comes through a queue of its own, behind the load's result, and node-llama-cpp drops
            // lines below the level current when they arrive: wait for every layer's line at debug level.
            // Every layer's device said, and the weights of every worker device that got a layer.
            const complete = () => assigned >= model.fileInsights.totalLayers && [...layers.keys()].every((d) => !endpointOf.has(d) || modelBytes.has(endpointOf.get(d)!));
            for (const deadline = Date.now() + 3000; !complete() && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 10));
            this.placement = { layers, modelBytes };
            return model;
        } finally {
            llama.logLevel = level;
            sink.capture = null;
        }
    }

    /**
     * Probes every worker (all at once, `rpcProbeTimeoutMs` each) and registers those that answer.
     * A worker that does not answer is left out with one line in `notes`; with `requireAll` it is an
     * error instead. Workers registered earlier in this process but not in `endpoints` are an error:
     * llama.cpp would still put layers on them.
     */
    static async connect(llama: Llama, endpoints: readonly RpcEndpoint[], { requireAll = false, timeoutMs = rpcProbeTimeoutMs } = {}): Promise<RpcWorkers> {
        const bindingPath = rpcBindingPath(llama);
        const rpc = loadAddon();
        const before = RpcWorkers.registered.get(llama) ?? new Set(rpc.devices(bindingPath).map((d) => d.endpoint));
        const stale = [...before].filter((e) => !endpoints.some((x) => x.text === e));
        if (stale.length > 0)
            throw new EngineError("rpc-worker", `Worker${stale.length > 1 ? "s" : ""} ${stale.join(", ")} ${stale.length > 1 ? "are" : "is"} still registered in this process, and llama.cpp cannot forget a worker: restart Presage to change the list.`);
        const probes = await Promise.allSettled(endpoints.map((e) => before.has(e.text) ? Promise.resolve("") : probeRpcWorker(e, timeoutMs)));
        const notes: string[] = [];
        const answered: RpcEndpoint[] = [];
        probes.forEach((probe, i) => {
            if (probe.status === "fulfilled") answered.push(endpoints[i]!);
            else if (requireAll) throw probe.reason;
            else notes.push(`${(probe.reason as Error).message}; left out.`);
        });
        for (const endpoint of answered) {
            const warning = await rpcExposureWarning(endpoint);
            if (warning != null) notes.push(warning);
            rpc.addServer(bindingPath, endpoint.text);
            before.add(endpoint.text);
        }
        RpcWorkers.registered.set(llama, before);
        return new RpcWorkers(bindingPath, answered, notes);
    }

    /**
     * Refuses, in one line, a target whose weights (about its file's size) fit neither on the workers
     * in use nor on them and this machine together: llama.cpp would otherwise fail deep in the load on
     * a buffer it cannot allocate, or abort the process.
     */
    refuseWhatFitsNowhere(modelPath: string, hereFreeBytes = freemem()): void {
        let weightBytes: number;
        try {
            weightBytes = statSync(modelPath).size;
        } catch {
            return; // the load says what is wrong with the path
        }
        const workersFree = this.devices().reduce((sum, d) => sum + d.freeBytes, 0);
        if (weightBytes <= workersFree + hereFreeBytes) return;
        const gib = (bytes: number) => `${(bytes / 2 ** 30).toFixed(1)} GiB`;
        const n = this.endpoints.length;
        throw new EngineError("rpc-worker", `${basename(modelPath)} fits nowhere: its weights take ${gib(weightBytes)}, and the ${n} worker${n > 1 ? "s" : ""} that answered have ${gib(workersFree)} free, with ${gib(hereFreeBytes)} free here.`);
    }

    /** Every device of the workers in use, with its memory now (one round trip to each worker). */
    devices(): RpcDevice[] {
        const placement = this.placement;
        return loadAddon().devices(this.bindingPath)
            .filter((d) => this.endpoints.some((e) => e.text === d.endpoint))
            .map((d) => placement == null ? d : { ...d, layers: placement.layers.get(d.name) ?? 0, modelBytes: placement.modelBytes.get(d.endpoint) ?? 0 });
    }
}
