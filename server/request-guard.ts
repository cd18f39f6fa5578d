import { createHmac, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";
import { hostname, networkInterfaces } from "node:os";
import { HttpError } from "./http-error.ts";

/** Addresses that only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
    const h = host.replace(/^\[|\]$/g, "").toLowerCase();
    return h === "localhost" || h === "::1" || /^127(\.\d{1,3}){3}$/.test(h) || h === "::ffff:127.0.0.1";
}

function isWildcard(host: string): boolean {
    return host === "0.0.0.0" || host === "::" || host === "[::]";
}

/** `host` as it appears in a Host header (IPv6 in brackets). */
function hostForHeader(host: string): string {
    const h = host.replace(/^\[|\]$/g, "");
    return h.includes(":") ? `[${h}]` : h;
}

/**
 * The Host header values this server answers to: the loopback names and the bound address with the
 * port, plus this machine's addresses and name when bound to every interface. Anything else is a
 * page that resolved its own domain name to us (DNS rebinding) and is refused.
 */
export function allowedHostHeaders(bindHost: string, port: number, extra: readonly string[] = []): Set<string> {
    const names = new Set<string>(["localhost", "127.0.0.1", "[::1]", hostForHeader(bindHost).toLowerCase(), ...extra.map((h) => h.toLowerCase())]);
    if (isWildcard(bindHost)) {
        const me = hostname().toLowerCase();
        names.add(me);
        names.add(`${me}.local`);
        for (const list of Object.values(networkInterfaces()))
            for (const a of list ?? []) names.add(hostForHeader(a.address).toLowerCase());
    }
    const out = new Set<string>();
    for (const n of names) out.add(`${n}:${port}`);
    return out;
}

/** Refuses a request whose Host is not ours (403), and a browser request from another origin (403). */
export function checkHostAndOrigin(req: IncomingMessage, allowed: ReadonlySet<string>): void {
    const host = String(req.headers.host ?? "").toLowerCase();
    if (!allowed.has(host))
        throw new HttpError(403, "forbidden", `This server answers only to ${[...allowed].slice(0, 2).join(" or ")}; the Host "${host.slice(0, 100)}" was refused.`);
    const origin = req.headers.origin;
    // Browsers name the page that sent a request; only our own page may use the API. Tools (curl, SDKs) send no Origin.
    if (origin != null && !allowed.has(origin.toLowerCase().replace(/^https?:\/\//, "")))
        throw new HttpError(403, "forbidden", `Requests from pages of other sites are refused (Origin ${origin.slice(0, 100)}).`);
}

/**
 * The app API's token, in the `x-presage-token` header. With an API key set, `Authorization: Bearer
 * <key>` is accepted too (the token is then derived from the key, see `appTokenForKey`).
 */
export function checkAppToken(req: IncomingMessage, token: string, apiKey: string | null = null): void {
    const given = req.headers["x-presage-token"];
    if (typeof given === "string" && safeEqual(given, token)) return;
    if (apiKey != null && bearer(req) != null && safeEqual(bearer(req)!, apiKey)) return;
    throw new HttpError(401, "unauthorized", apiKey == null
        ? "This needs the page's x-presage-token header: open the address that `presage serve` printed."
        : "This server has an API key: open the address that `presage serve` printed (its #token= carries the page's key), or send \"Authorization: Bearer <key>\".");
}

/**
 * The app token of a server started with an API key: derived from the key, so that only someone who
 * has the key (or the address `presage serve` printed) can use the app API, and the same across runs.
 */
export function appTokenForKey(apiKey: string): string {
    return createHmac("sha256", apiKey).update("presage app token").digest("base64url");
}

/** The OpenAI-compatible API's key, as `Authorization: Bearer <key>`, when one is set. */
export function checkApiKey(req: IncomingMessage, apiKey: string | null): void {
    if (apiKey == null) return;
    const given = bearer(req);
    if (given == null || !safeEqual(given, apiKey))
        throw new HttpError(401, "unauthorized", "This server needs its API key as \"Authorization: Bearer <key>\" (the --api-key it was started with).");
}

function bearer(req: IncomingMessage): string | null {
    const match = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? "");
    return match == null ? null : match[1]!.trim();
}

function safeEqual(a: string, b: string): boolean {
    const x = Buffer.from(a);
    const y = Buffer.from(b);
    return x.length === y.length && timingSafeEqual(x, y);
}
