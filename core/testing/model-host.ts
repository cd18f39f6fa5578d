import { createServer, type Server } from "node:http";
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from "node:net";
import type { AddressInfo } from "node:net";
import { recommendedPairSpecs } from "../models-folder.ts";

export interface ModelHost {
    /** e.g. http://127.0.0.1:1234 */
    readonly url: string;
    /** Every GET it answered: path, whether ranged, where it started, bytes sent. */
    readonly served: { path: string; ranged: boolean; start: number; bytes: number }[];
    close(): Promise<void>;
}

/**
 * A model host on 127.0.0.1 standing in for Hugging Face: serves `files` by path, honours Range
 * requests, and sends 64 KiB every `delayMs` so that progress, pause and resume can be watched.
 */
export async function startModelHost(files: Record<string, Buffer>, options: { delayMs?: number; stallAfter?: Record<string, number> } = {}): Promise<ModelHost> {
    const delay = options.delayMs ?? 15;
    const served: ModelHost["served"] = [];
    const server: Server = createServer((req, res) => {
        const data = files[decodeURIComponent((req.url ?? "").split("?")[0]!)];
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
        // A server that stops sending mid-file, and keeps the connection open.
        const stallAt = options.stallAfter?.[req.url!] ?? Infinity;
        const tick = () => {
            if (res.destroyed || start + offset >= stallAt) return;
            if (offset >= body.length) return void res.end();
            const piece = body.subarray(offset, offset + 64 * 1024);
            offset += piece.length;
            record.bytes += piece.length;
            res.write(piece);
            setTimeout(tick, delay);
        };
        tick();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    return {
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        served,
        async close() {
            server.closeAllConnections();
            await new Promise<void>((r) => server.close(() => r()));
        }
    };
}

/** A host that accepts connections and never answers: a network that swallows packets. */
export async function startBlackHole(): Promise<{ url: string; close(): Promise<void> }> {
    const sockets = new Set<Socket>();
    const server: TcpServer = createTcpServer((s) => {
        sockets.add(s);
        s.on("close", () => sockets.delete(s));
        s.on("error", () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    return {
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        async close() {
            for (const s of sockets) s.destroy();
            await new Promise<void>((r) => server.close(() => r()));
        }
    };
}

/** A 127.0.0.1 address where nothing listens (the port was free a moment ago): connections are refused. */
export async function closedPortUrl(): Promise<string> {
    const server = createTcpServer();
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as AddressInfo).port;
    await new Promise<void>((r) => server.close(() => r()));
    return `http://127.0.0.1:${port}`;
}

/** Where a Hugging Face stand-in serves a recommended pair's files: `/<repo>/resolve/main/<file>`. */
export function pairPaths(pairId: string): { target: string; draft: string } {
    const pair = recommendedPairSpecs.find((p) => p.id === pairId);
    if (pair == null) throw new Error(`no recommended pair ${pairId}`);
    return {
        target: `/${pair.target.repo}/resolve/main/${pair.target.fileName}`,
        draft: `/${pair.draft.repo}/resolve/main/${pair.draft.fileName}`
    };
}
