import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeWithStories } from "../native-models/testing/stories.ts";
import type { AnswerEvent } from "../core/app-api.ts";
import { createAppServices, type AppServices } from "../core/app-services.ts";
import { createBridge, type IpcRendererLike } from "./bridge.ts";
import { invokeChannels, preloadChannels } from "./ipc-channels.ts";
import { forwardAppEvents, registerIpcHandlers, type InvokeEventLike, type IpcMainLike } from "./ipc.ts";
import { isTrustedSender } from "./sender-check.ts";

const page = pathToFileURL("/opt/Presage/resources/app/renderer/dist/index.html").href;

describe("isTrustedSender", () => {
    it("trusts only our own page", () => {
        const trusted = { fileUrl: page };
        expect(isTrustedSender(page, trusted)).toBe(true);
        expect(isTrustedSender(page + "#/conversations/3", trusted)).toBe(true);
        for (const url of [
            null, "", "not a url", "https://evil.example/", "file:///tmp/index.html",
            pathToFileURL("/opt/Presage/resources/app/renderer/dist/other.html").href,
            "file://remote-host/opt/Presage/resources/app/renderer/dist/index.html"
        ]) expect(isTrustedSender(url, trusted)).toBe(false);
        const dev = { origin: "http://localhost:5173" };
        expect(isTrustedSender("http://localhost:5173/", dev)).toBe(true);
        expect(isTrustedSender("http://localhost:5174/", dev)).toBe(false);
        expect(isTrustedSender(page, dev)).toBe(false);
    });
});

/**
 * Electron's IPC transport cannot run here (no Electron binary); this carries the same calls between
 * the real bridge and the real handlers over the real services, the way ipcRenderer/ipcMain would.
 */
function wire(services: AppServices, frameUrl: () => string, opened: string[] = []) {
    const handlers = new Map<string, (event: InvokeEventLike, ...args: unknown[]) => Promise<unknown>>();
    const rendererListeners = new Map<string, Set<(event: unknown, ...args: unknown[]) => void>>();
    const sender = {
        destroyed: false,
        send: (channel: string, ...args: unknown[]) => {
            for (const l of rendererListeners.get(channel) ?? []) l({}, ...structuredClone(args));
        },
        isDestroyed: () => sender.destroyed,
        once: () => sender
    };
    const ipcMain: IpcMainLike = {
        handle: (channel, handler) => void handlers.set(channel, handler),
        removeHandler: (channel) => void handlers.delete(channel)
    };
    const ipcRenderer: IpcRendererLike = {
        async invoke(channel, ...args) {
            const handler = handlers.get(channel);
            if (handler == null) throw new Error(`No handler registered for '${channel}'`);
            // Arguments and results cross a structured-clone boundary.
            return structuredClone(await handler({ senderFrame: { url: frameUrl() }, sender }, ...structuredClone(args)));
        },
        on(channel, listener) {
            if (!rendererListeners.has(channel)) rendererListeners.set(channel, new Set());
            rendererListeners.get(channel)!.add(listener);
        },
        removeListener(channel, listener) {
            rendererListeners.get(channel)?.delete(listener);
        }
    };
    const unregister = registerIpcHandlers({
        ipcMain, api: services.api,
        isTrusted: (url) => isTrustedSender(url, { fileUrl: page }),
        choosePaths: async (_event, options) => [`/chosen/${options.kind}`],
        openFolder: async (path) => void opened.push(path),
        addModelFile: async (path) => `/models/${path.split("/").at(-1)}`,
        dropPaths: async (_event, paths) => ({ models: [], documents: paths, errors: [] })
    });
    const stopEvents = forwardAppEvents(services.api, () => [sender]);
    return { handlers, bridge: createBridge(ipcRenderer), rendererListeners, unregister, stopEvents };
}

describeWithStories("the IPC handlers and the preload bridge", (storiesPath) => {
    const dir = mkdtempSync(join(tmpdir(), "presage-ipc-"));
    let services: AppServices;
    let frame = page;
    let w: ReturnType<typeof wire>;
    const opened: string[] = [];

    beforeAll(async () => {
        services = createAppServices({ modelsDir: join(storiesPath, ".."), dbPath: join(dir, "p.db"), threads: 1, calibrate: false });
        await services.models.load({ target: storiesPath });
        w = wire(services, () => frame, opened);
    });
    afterAll(async () => {
        w?.unregister();
        w?.stopEvents();
        await services?.close();
        rmSync(dir, { recursive: true, force: true });
    });

    it("has one bridge method per handler, one handler per channel", () => {
        const methods = Object.keys(w.bridge).filter((k) => k !== "onAppEvent" && k !== "onShellCommand").sort();
        expect(methods).toEqual(Object.keys(invokeChannels).sort());
        expect([...w.handlers.keys()].sort()).toEqual([...Object.values(invokeChannels), preloadChannels.dropPaths].sort());
        // Nothing but functions: no ipcRenderer, no channels, no objects to reach through.
        for (const value of Object.values(w.bridge)) expect(typeof value).toBe("function");
    });

    it("answers through the same services, streaming the answer's events", async () => {
        const state = await w.bridge.getState();
        expect(state.engine?.modelPath).toBe(storiesPath);
        const conversation = await w.bridge.createConversation({ title: "ipc" });
        const events: AnswerEvent[] = [];
        await w.bridge.sendMessage(conversation.id, { content: "Once upon a time", strategies: ["ngram"] }, (e) => events.push(e));
        expect(events[0]!.type).toBe("start");
        expect(events.at(-1)!.type).toBe("done");
        expect(events.some((e) => e.type === "step")).toBe(true);
        expect((await w.bridge.getConversation(conversation.id)).messages).toHaveLength(2);
        expect(w.rendererListeners.get("presage:answer-event")?.size ?? 0).toBe(0);
        expect(await w.bridge.choosePaths({ kind: "folder" })).toEqual(["/chosen/folder"]);
    });

    it("forwards app events and keeps error codes", async () => {
        const seen: string[] = [];
        const off = w.bridge.onAppEvent((e) => seen.push(e.type));
        await w.bridge.updateSettings({ theme: "dark" });
        off();
        expect(seen).toContain("settings");
        await expect(w.bridge.getConversation("12345")).rejects.toMatchObject({ code: "not-found" });
        await expect(w.bridge.updateSettings({ theme: "purple" } as never)).rejects.toMatchObject({ code: "invalid-request", message: expect.stringMatching(/theme/) });
        await expect(w.bridge.choosePaths({ kind: "disk" } as never)).rejects.toMatchObject({ code: "invalid-request" });
    });

    it("opens the models folder and nothing else, and changes it", async () => {
        // The bridge method takes no path: whatever the page sends, only the services' folder opens.
        await (w.bridge.openModelsFolder as (...a: unknown[]) => Promise<void>)("/etc");
        expect(opened).toEqual([services.models.modelsDir]);
        const other = join(dir, "models-elsewhere");
        expect((await w.bridge.setModelsFolder({ dir: other })).dir).toBe(other);
        await w.bridge.openModelsFolder();
        expect(opened.at(-1)).toBe(other);
        await expect(w.bridge.setModelsFolder({ dir: "relative" })).rejects.toMatchObject({ code: "invalid-request" });
    });

    it("rejects bad arguments with the very message the services give over HTTP", async () => {
        for (const [viaIpc, direct] of [
            [() => w.bridge.updateSettings({ sampling: { temperature: "hot" } } as never), () => services.api.updateSettings({ sampling: { temperature: "hot" } } as never)],
            [() => w.bridge.createConversation({ title: 5 } as never), () => services.api.createConversation({ title: 5 } as never)],
            [() => w.bridge.race({ prompt: "" }), () => services.api.race({ prompt: "" })],
            [() => w.bridge.addDocuments({ path: "" }), () => services.api.addDocuments({ path: "" })]
        ] as const) {
            const expected = await Promise.resolve().then(direct as () => Promise<unknown>).then(() => null, (err: Error) => err.message);
            expect(expected).toMatch(/^Invalid /);
            await expect((viaIpc as () => Promise<unknown>)()).rejects.toMatchObject({ code: "invalid-request", message: expected });
        }
    });

    it("refuses every message from a frame that is not our page", async () => {
        frame = "https://evil.example/";
        try {
            await expect(w.bridge.getState()).rejects.toMatchObject({ code: "forbidden" });
            await expect(w.bridge.clearHistory()).rejects.toMatchObject({ code: "forbidden" });
        } finally {
            frame = page;
        }
        expect((await w.bridge.listConversations()).length).toBe(1);
    });
});
