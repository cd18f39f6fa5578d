import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBridge, type IpcRendererLike } from "../electron/bridge.ts";
import { preloadChannels } from "../electron/ipc-channels.ts";
import { registerIpcHandlers, type InvokeEventLike } from "../electron/ipc.ts";
import { httpApi } from "../renderer/src/lib/api.ts";
import { appRoutes } from "../server/app-routes.ts";
import { Router } from "../server/router.ts";
import { appMethods, appStreams, desktopEvents, desktopMethods, type HttpSource } from "./api-contract.ts";
import type { AppApi } from "./app-api.ts";
import { AppService } from "./app-service.ts";

/** The AppApi methods, as the real service implements them (an interface has no run-time keys). */
const apiMethods = Object.getOwnPropertyNames(AppService.prototype).filter((k) => k !== "constructor").sort();
const contractMethods = [...Object.keys(appMethods), ...Object.keys(appStreams)].sort();

/** An AppApi that records each call's arguments and answers with them. */
function recordingApi() {
    const calls: { method: string; args: unknown[] }[] = [];
    const api = new Proxy({}, {
        get: (_t, method: string) => (...args: unknown[]) => {
            calls.push({ method, args });
            if (method === "onAppEvent") return () => undefined;
            return Promise.resolve({ echoed: args });
        }
    }) as AppApi;
    return { api, calls };
}

describe("the API contract (core/api-contract.ts)", () => {
    it("has exactly one entry per AppApi method", () => {
        expect(apiMethods.length).toBeGreaterThan(20);
        expect(contractMethods).toEqual(apiMethods);
        expect(Object.keys(appMethods).filter((m) => m in appStreams)).toEqual([]);
    });

    it("gives every method its own route and its own channel, and every :param an argument", () => {
        const routes = [...Object.values(appMethods), ...Object.values(appStreams)].map((s) => `${s.http.method} ${s.http.path}`);
        expect(new Set(routes).size).toBe(routes.length);
        const channels = [
            ...Object.values(appMethods).map((s) => s.ipc), ...Object.values(appStreams).flatMap((s) => [s.ipc, s.events]).filter((c) => c != null),
            ...Object.values(desktopMethods).map((s) => s.ipc), ...Object.values(desktopEvents), ...Object.values(preloadChannels)
        ];
        expect(new Set(channels).size).toBe(channels.length);
        for (const [name, spec] of [...Object.entries(appMethods), ...Object.entries(appStreams)]) {
            const params = [...spec.http.path.matchAll(/:(\w+)/g)].map((m) => m[1]).sort();
            const sources: HttpSource[] = spec.args.map((a) => a.http);
            expect(sources.filter((s) => s.in === "path").map((s) => s.name).sort(), name).toEqual(params);
            expect(sources.filter((s) => s.in === "body").length, name).toBeLessThanOrEqual(1);
            if (spec.http.method === "GET") expect(sources.filter((s) => s.in === "body" || s.in === "body-field"), name).toEqual([]);
        }
    });

    it("is what the HTTP routes serve: a route per method, none without one", () => {
        const { api } = recordingApi();
        const served = appRoutes({ api, maxBodyBytes: 1024 }).map((r) => `${r.method} ${r.path}`).sort();
        const expected = [...Object.values(appMethods), ...Object.values(appStreams)].map((s) => `${s.http.method} ${s.http.path}`).sort();
        expect(served).toEqual(expected);
    });

    it("is what the IPC handlers listen on: a channel per method, none without one", () => {
        const { api } = recordingApi();
        const channels: string[] = [];
        registerIpcHandlers({
            ipcMain: { handle: (channel) => void channels.push(channel), removeHandler: () => undefined },
            api, isTrusted: () => true, choosePaths: async () => [], addModelFile: async (p) => p,
            dropPaths: async () => ({ models: [], documents: [], errors: [] })
        });
        const expected = [
            ...Object.values(appMethods).map((s) => s.ipc), ...Object.values(appStreams).map((s) => s.ipc).filter((c) => c != null),
            ...Object.values(desktopMethods).map((s) => s.ipc), preloadChannels.dropPaths
        ];
        expect(channels.sort()).toEqual(expected.sort());
    });

    it("is what the preload bridge exposes: a function per method, none without one", () => {
        const ipc: IpcRendererLike = { invoke: async () => ({ ok: true, value: null }), on: () => undefined, removeListener: () => undefined };
        const bridge = createBridge(ipc);
        expect(Object.keys(bridge).sort()).toEqual([...apiMethods, ...Object.keys(desktopMethods), ...Object.keys(desktopEvents)].sort());
        for (const value of Object.values(bridge)) expect(typeof value).toBe("function");
    });

    it("is what the window's HTTP client sends: a method per route", () => {
        const client = httpApi({ baseUrl: "http://127.0.0.1:1", token: "t" });
        for (const method of apiMethods) expect(typeof (client as unknown as Record<string, unknown>)[method], method).toBe("function");
    });

    describe("carried end to end", () => {
        const recorded = recordingApi();
        let server: Server;
        let baseUrl = "";
        beforeAll(async () => {
            const router = new Router(appRoutes({ api: recorded.api, maxBodyBytes: 1 << 16 }));
            server = createServer(async (req, res) => {
                const url = new URL(req.url ?? "/", "http://localhost");
                const match = router.match(req.method ?? "GET", url.pathname);
                if (match == null || match === "method-not-allowed") return void res.writeHead(match == null ? 404 : 405).end();
                await match.route.handler({ req, res, url, params: match.params, signal: new AbortController().signal });
            });
            await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
            baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        });
        afterAll(() => new Promise((resolve) => server?.close(resolve)));

        /** A value for each kind of argument, awkward where it can be (a path segment to encode). */
        const sample = (source: HttpSource, i: number): unknown =>
            source.in === "path" ? `id ${i}/é?#` : source.in === "query" ? "cats & dogs" : source.in === "body-field" ? true : { field: i, nested: ["x"] };

        it("the browser client's call reaches the same method with the same arguments over HTTP, with the contract's status", async () => {
            const client = httpApi({ baseUrl, token: "t" }) as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
            for (const [method, spec] of Object.entries(appMethods)) {
                const args = spec.args.map((a, i) => sample(a.http, i));
                recorded.calls.length = 0;
                const result = await client[method]!(...args);
                expect(recorded.calls, method).toEqual([{ method, args }]);
                if (spec.http.status === 204) expect(result, method).toBeUndefined();
                else expect(result, method).toEqual({ echoed: args });
            }
        });

        it("the bridge's call reaches the same method with the same arguments over IPC", async () => {
            const handlers = new Map<string, (event: InvokeEventLike, ...args: unknown[]) => Promise<unknown>>();
            const ipcRecorded = recordingApi();
            registerIpcHandlers({
                ipcMain: { handle: (c, h) => void handlers.set(c, h), removeHandler: () => undefined },
                api: ipcRecorded.api, isTrusted: () => true, choosePaths: async () => [], addModelFile: async (p) => p,
                dropPaths: async () => ({ models: [], documents: [], errors: [] })
            });
            const sender = { send: () => undefined, isDestroyed: () => false, once: () => sender };
            const bridge = createBridge({
                invoke: (channel, ...args) => handlers.get(channel)!({ senderFrame: { url: "file:///app/index.html", parent: null }, sender }, ...structuredClone(args)),
                on: () => undefined,
                removeListener: () => undefined
            }) as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
            // Valid arguments this time: the handlers check them with the contract's schemas.
            const valid: Partial<Record<keyof typeof appMethods, unknown[]>> = {
                updateSettings: [{ theme: "dark" }], loadModel: [{ target: "m.gguf" }], checkDraft: [{ target: "a.gguf", draft: "b.gguf" }],
                downloadModel: [{ uri: "hf:o/r/f.gguf" }], downloadPair: [{ pairId: "p" }], setModelsFolder: [{ dir: "/m" }], listConversations: ["cats"],
                listDocuments: [100, 0], createConversation: [{ title: "t" }], updateConversation: ["1", { title: "x" }], race: [{ prompt: "p" }], addDocuments: [{ path: "/d" }],
                setDocumentsWatch: ["1", true], pauseDocuments: ["1", true]
            };
            for (const [method, spec] of Object.entries(appMethods) as [keyof typeof appMethods, (typeof appMethods)[keyof typeof appMethods]][]) {
                const args = valid[method] ?? spec.args.map(() => "1");
                ipcRecorded.calls.length = 0;
                await bridge[method]!(...args);
                expect(ipcRecorded.calls, method).toEqual([{ method, args }]);
            }
        });
    });
});
