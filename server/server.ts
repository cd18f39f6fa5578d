import { randomBytes } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { createAppServices, type AppServices, type AppServicesOptions } from "../core/app-services.ts";
import { appRoutes } from "./app-routes.ts";
import { errorBody, HttpError, toHttpError } from "./http-error.ts";
import { openAiRoutes } from "./openai-routes.ts";
import { rendererDistDir } from "./renderer-build.ts";
import { allowedHostHeaders, appTokenForKey, checkApiKey, checkAppToken, checkHostAndOrigin, isLoopbackHost } from "./request-guard.ts";
import { Router, sendJson } from "./router.ts";
import { setSecurityHeaders } from "./security-headers.ts";
import { notBuiltPage, StaticFiles } from "./static-files.ts";

export interface ServerOptions {
    /** Address to bind (default 127.0.0.1). Anything but loopback requires `apiKey`. */
    host?: string;
    /** Port (default 7745; 0 picks a free one). */
    port?: number;
    /**
     * Key for `Authorization: Bearer` (required off loopback; optional on it). When set it guards
     * everything but the page's static files: /v1, and /api through a token derived from it that only
     * `appUrl` carries (the page is then served without a token).
     */
    apiKey?: string | null;
    /** The app API's token (default: derived from `apiKey` when there is one, else random per run). */
    token?: string;
    /** Largest request body accepted (default 1 MiB); larger ones get 413. */
    maxBodyBytes?: number;
    /**
     * Time a request's headers have to arrive, and then its body, in ms each (default 10 s); a body
     * still incomplete then gets 408 and the connection is closed. Responses (streams) may run for as
     * long as they generate.
     */
    bodyTimeoutMs?: number;
    /** Open connections at most (default 128); more are closed as they arrive. */
    maxConnections?: number;
    /** The built chat window (default renderer/dist). */
    rendererDir?: string;
    /** Extra Host names to answer to (e.g. a name this machine has on the LAN), without the port. */
    allowedHosts?: string[];
    /**
     * Services to serve. Without them they are created from `services` options (and closed with the
     * server); given, they stay the caller's (the Electron app shares them with IPC).
     */
    services?: AppServices | AppServicesOptions;
    /** Target model to load before listening. */
    model?: string;
    /** Draft model to load with it. */
    draft?: string | null;
}

export interface RunningServer {
    /** e.g. http://127.0.0.1:7745 */
    readonly url: string;
    /** The address to open in a browser: `url` + `/#token=…`. */
    readonly appUrl: string;
    readonly host: string;
    readonly port: number;
    readonly token: string;
    readonly services: AppServices;
    readonly server: Server;
    /** Stops listening, drops open connections (streams end), closes services it created. */
    close(): Promise<void>;
}

/** A body that did not arrive in time: 408 when nothing was answered yet, and the connection closes. */
function bodyTooSlow(req: IncomingMessage, res: ServerResponse, style: "app" | "openai"): void {
    if (req.complete || res.destroyed) return;
    if (!res.headersSent)
        sendJson(res, 408, errorBody(new HttpError(408, "request-timeout", "The request body did not arrive in time; send it at once."), style), { connection: "close" });
    else res.end();
    // Unread body bytes must not be taken for the next request; give the answer a moment to leave.
    req.socket.end();
    setTimeout(() => req.socket.destroy(), 1000).unref();
}

/** Thrown for options that must not start a server (binding off loopback without an API key). */
export class ServerConfigError extends Error {}

/**
 * Starts the headless host: the chat window (static files), the app API under /api (per-run token),
 * and the OpenAI-compatible API under /v1, on one port.
 */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
    const host = options.host ?? "127.0.0.1";
    const apiKey = options.apiKey ?? null;
    if (apiKey != null && apiKey.trim() === "")
        throw new ServerConfigError("The API key is empty: give --api-key a secret (a long random string), or leave --api-key out on 127.0.0.1.");
    if (!isLoopbackHost(host) && apiKey == null)
        throw new ServerConfigError(`Binding to ${host} exposes the model to the network: give --api-key KEY (or bind 127.0.0.1).`);
    const ownServices = options.services == null || !("api" in options.services);
    if (options.services == null) throw new ServerConfigError("startServer needs services or the options to create them (modelsDir, dbPath).");
    const services: AppServices = ownServices ? createAppServices(options.services as AppServicesOptions) : (options.services as AppServices);
    try {
        if (options.model != null) await services.models.load({ target: options.model, draft: options.draft ?? null }, { anywhere: true });
    } catch (err) {
        if (ownServices) await services.close();
        throw err;
    }
    const token = options.token ?? (apiKey != null ? appTokenForKey(apiKey) : randomBytes(24).toString("base64url"));
    const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
    const bodyTimeoutMs = options.bodyTimeoutMs ?? 10_000;
    // With a key, or off loopback, others can fetch the page: only the printed address carries the
    // token then, so the page alone cannot use /api.
    const files = new StaticFiles({ dir: options.rendererDir ?? rendererDistDir, token: isLoopbackHost(host) && apiKey == null ? token : null });
    const api = new Router(appRoutes({ api: services.api, maxBodyBytes }));
    const v1 = new Router(openAiRoutes({ models: services.models, generation: services.generation, maxBodyBytes }));
    let allowed = new Set<string>();

    const handle = async (req: IncomingMessage, res: ServerResponse) => {
        const controller = new AbortController();
        res.on("close", () => {
            if (!res.writableFinished) controller.abort();
        });
        const pathname = (req.url ?? "/").split("?")[0]!;
        const style = pathname === "/v1" || pathname.startsWith("/v1/") ? "openai" : "app";
        setSecurityHeaders(res);
        const bodyDeadline = req.complete ? null : setTimeout(() => bodyTooSlow(req, res, style), bodyTimeoutMs);
        if (bodyDeadline != null) {
            const clear = () => clearTimeout(bodyDeadline);
            req.once("end", clear);
            res.once("close", clear);
        }
        try {
            checkHostAndOrigin(req, allowed);
            // Parsed as a path, never as a URL of its own: "//api/state" would read as host "api".
            const url = new URL("http://localhost" + (req.url?.startsWith("/") ? req.url : "/" + (req.url ?? "")));
            const method = req.method ?? "GET";
            // "/API/state", "//api/state" or "/%61pi/state" are no route, and must not get the page
            // (a client would read HTML as the API's answer): a JSON 404.
            if (!isRoutePath(url.pathname))
                throw new HttpError(404, "not-found", `There is no ${url.pathname.slice(0, 200)} here: the API's paths are /api/... and /v1/..., in lower case.`);
            let router: Router | null = null;
            if (url.pathname === "/api" || url.pathname.startsWith("/api/")) {
                checkAppToken(req, token, apiKey);
                router = api;
            } else if (url.pathname === "/v1" || url.pathname.startsWith("/v1/")) {
                checkApiKey(req, apiKey);
                router = v1;
            }
            if (router != null) {
                const match = router.match(method, url.pathname);
                if (match === "method-not-allowed") throw new HttpError(405, "invalid-request", `${method} is not allowed on ${url.pathname}.`);
                if (match == null) throw new HttpError(404, "not-found", `There is no ${url.pathname} here.`);
                await match.route.handler({ req, res, url, params: match.params, signal: controller.signal });
                return;
            }
            if (method !== "GET" && method !== "HEAD") throw new HttpError(405, "invalid-request", `${method} is not allowed on ${url.pathname}.`);
            if (await files.serve(url.pathname, res, method === "HEAD")) return;
            if (url.pathname === "/" || url.pathname === "/index.html") {
                const page = notBuiltPage(options.rendererDir ?? rendererDistDir);
                res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
                res.end(method === "HEAD" ? undefined : page);
                return;
            }
            throw new HttpError(404, "not-found", `There is no ${url.pathname} here.`);
        } catch (err) {
            // The client left (mid-upload or mid-answer): nobody to answer, nothing to log.
            if (controller.signal.aborted || res.destroyed) return;
            const e = toHttpError(err);
            if (e.status === 499) return;
            if (res.headersSent) {
                res.end();
                return;
            }
            sendJson(res, e.status, errorBody(e, style), e.headers);
            // A body we refused to read must not be parsed as the next request.
            if (e.status === 413) req.resume();
        }
    };

    // Node checks its request deadlines every `connectionsCheckingInterval`; a second keeps them close.
    const server = createServer({ connectionsCheckingInterval: Math.min(1000, bodyTimeoutMs) }, (req, res) => void handle(req, res));
    // Node's own deadlines cover receiving a request only, never the response, so streams may run
    // as long as they generate. Ours (bodyTooSlow) answers first with a JSON 408; Node's
    // requestTimeout is the backstop for a body nobody reads.
    server.headersTimeout = bodyTimeoutMs;
    server.requestTimeout = 2 * bodyTimeoutMs;
    server.maxConnections = options.maxConnections ?? 128;
    try {
        await new Promise<void>((resolve, reject) => {
            server.once("error", reject);
            server.listen(options.port ?? 7745, host, () => {
                server.off("error", reject);
                resolve();
            });
        });
    } catch (err) {
        if (ownServices) await services.close();
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "EADDRINUSE") throw new ServerConfigError(`Port ${options.port} on ${host} is in use: choose another with --port (0 picks a free one).`);
        if (code === "EADDRNOTAVAIL") throw new ServerConfigError(`${host} is not an address of this machine: choose another --host.`);
        throw err;
    }
    const port = (server.address() as AddressInfo).port;
    allowed = allowedHostHeaders(host, port, options.allowedHosts);
    const shownHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
    const url = `http://${shownHost}:${port}`;
    let closing: Promise<void> | null = null;
    return {
        url,
        appUrl: `${url}/#token=${token}`,
        host,
        port,
        token,
        services,
        server,
        close() {
            closing ??= (async () => {
                const closed = new Promise<void>((resolve) => server.close(() => resolve()));
                server.closeAllConnections();
                await closed;
                if (ownServices) await services.close();
            })();
            return closing;
        }
    };
}

/** Whether a path is exactly one of the API's own prefixes (lower case, single slashes). */
function isRoutePath(pathname: string): boolean {
    return pathname === "/api" || pathname.startsWith("/api/") || pathname === "/v1" || pathname.startsWith("/v1/") || !isApiLike(pathname);
}

/** Whether a path looks meant for the API in any spelling: any case, doubled slashes, percent-encoded. */
function isApiLike(pathname: string): boolean {
    let decoded = pathname;
    try {
        decoded = decodeURIComponent(pathname);
    } catch {
        // Left as it came.
    }
    const folded = decoded.replace(/[\\/]+/g, "/").toLowerCase();
    return /^\/(api|v1)(\/|$)/.test(folded);
}
