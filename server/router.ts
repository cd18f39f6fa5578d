import type { IncomingMessage, ServerResponse } from "node:http";
import { HttpError } from "./http-error.ts";

/** What a route handler gets: the request, its response, path parameters and a signal that aborts when the client goes. */
export interface RouteContext {
    req: IncomingMessage;
    res: ServerResponse;
    url: URL;
    params: Record<string, string>;
    /** Aborts when the client disconnects before the response is finished. */
    signal: AbortSignal;
}

export type RouteHandler = (ctx: RouteContext) => Promise<void>;

export interface Route {
    method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
    /** e.g. "/api/conversations/:id/messages" */
    path: string;
    handler: RouteHandler;
}

interface CompiledRoute extends Route {
    regex: RegExp;
    names: string[];
}

/** Method + path matching with `:name` segments; tells "no such path" (404) from "wrong method" (405). */
export class Router {
    private readonly routes: CompiledRoute[];

    constructor(routes: readonly Route[]) {
        this.routes = routes.map((r) => {
            const names: string[] = [];
            const pattern = r.path.split("/").map((seg) => {
                if (!seg.startsWith(":")) return seg.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
                names.push(seg.slice(1));
                return "([^/]+)";
            }).join("/");
            return { ...r, regex: new RegExp(`^${pattern}$`), names };
        });
    }

    match(method: string, pathname: string): { route: Route; params: Record<string, string> } | "method-not-allowed" | null {
        let pathMatched = false;
        for (const r of this.routes) {
            const m = r.regex.exec(pathname);
            if (m == null) continue;
            pathMatched = true;
            if (r.method !== method) continue;
            const params: Record<string, string> = {};
            r.names.forEach((name, i) => {
                try {
                    params[name] = decodeURIComponent(m[i + 1]!);
                } catch {
                    throw new HttpError(400, "invalid-request", `The path segment "${m[i + 1]!.slice(0, 100)}" is not valid URL encoding.`);
                }
            });
            return { route: r, params };
        }
        return pathMatched ? "method-not-allowed" : null;
    }
}

/** Writes a JSON response. */
export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
    const text = JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", "content-length": Buffer.byteLength(text), ...headers });
    res.end(text);
}

export function sendNoContent(res: ServerResponse): void {
    res.writeHead(204, { "cache-control": "no-store" });
    res.end();
}
