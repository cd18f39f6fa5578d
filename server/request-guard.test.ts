import type { IncomingMessage } from "node:http";
import { describe, expect, it } from "vitest";
import { allowedHostHeaders, checkApiKey, checkAppToken, checkHostAndOrigin, isLoopbackHost } from "./request-guard.ts";
import { injectToken } from "./static-files.ts";

const req = (headers: Record<string, string>) => ({ headers } as unknown as IncomingMessage);

describe("request guards", () => {
    const allowed = allowedHostHeaders("127.0.0.1", 7745);

    it("knows loopback addresses", () => {
        for (const h of ["127.0.0.1", "localhost", "::1", "[::1]", "127.1.2.3"]) expect(isLoopbackHost(h)).toBe(true);
        for (const h of ["0.0.0.0", "192.168.1.2", "example.com", "::"]) expect(isLoopbackHost(h)).toBe(false);
    });

    it("accepts our own Host and Origin and refuses others (DNS rebinding, other sites)", () => {
        expect(() => checkHostAndOrigin(req({ host: "127.0.0.1:7745" }), allowed)).not.toThrow();
        expect(() => checkHostAndOrigin(req({ host: "localhost:7745", origin: "http://localhost:7745" }), allowed)).not.toThrow();
        for (const host of ["evil.example:7745", "127.0.0.1:80", "127.0.0.1", ""])
            expect(() => checkHostAndOrigin(req({ host }), allowed)).toThrow(expect.objectContaining({ status: 403 }));
        for (const origin of ["http://evil.example", "null", "http://127.0.0.1:9999"])
            expect(() => checkHostAndOrigin(req({ host: "127.0.0.1:7745", origin }), allowed)).toThrow(expect.objectContaining({ status: 403 }));
    });

    it("answers to this machine's names when bound to every interface", () => {
        const all = allowedHostHeaders("0.0.0.0", 80, ["box.lan"]);
        expect(all.has("box.lan:80")).toBe(true);
        expect(all.has("127.0.0.1:80")).toBe(true);
    });

    it("checks the app token and the API key", () => {
        expect(() => checkAppToken(req({ "x-presage-token": "abc" }), "abc")).not.toThrow();
        expect(() => checkAppToken(req({ "x-presage-token": "abd" }), "abc")).toThrow(expect.objectContaining({ status: 401 }));
        expect(() => checkAppToken(req({}), "abc")).toThrow(expect.objectContaining({ status: 401 }));
        expect(() => checkApiKey(req({}), null)).not.toThrow();
        expect(() => checkApiKey(req({ authorization: "Bearer k1" }), "k1")).not.toThrow();
        expect(() => checkApiKey(req({ authorization: "Bearer k2" }), "k1")).toThrow(expect.objectContaining({ status: 401 }));
        expect(() => checkApiKey(req({ authorization: "k1" }), "k1")).toThrow(expect.objectContaining({ status: 401 }));
    });

    it("puts the token into the page, replacing a placeholder", () => {
        expect(injectToken(`<head><meta name="presage-token" content="%PRESAGE_TOKEN%"></head>`, "t0k")).toBe(`<head><meta name="presage-token" content="t0k"></head>`);
        expect(injectToken("<html><head></head></html>", "t0k")).toContain(`<meta name="presage-token" content="t0k">`);
        expect(injectToken(`<head><meta name="presage-token" content="x"></head>`, null)).toContain(`content=""`);
        expect(injectToken(`<head></head>`, `"><script>`)).not.toContain("<script>");
    });
});
