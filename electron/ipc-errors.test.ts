import { describe, expect, it, vi } from "vitest";
import type { AppApi } from "../core/app-api.ts";
import { EngineError } from "../native-models/engine-error.ts";
import { registerIpcHandlers, type InvokeEventLike, type IpcMainLike } from "./ipc.ts";
import { invokeChannels } from "./ipc-channels.ts";

describe("IPC errors", () => {
    it("reject with the app code of an engine error, and keep other errors internal", async () => {
        const handlers = new Map<string, (event: InvokeEventLike, ...args: unknown[]) => Promise<unknown>>();
        const ipcMain: IpcMainLike = { handle: (channel, handler) => void handlers.set(channel, handler), removeHandler: (channel) => void handlers.delete(channel) };
        let failure: Error = new EngineError("vocabulary-mismatch", "The draft model cannot draft for this target because their vocabularies differ.");
        const api = { loadModel: async () => { throw failure; } } as unknown as AppApi;
        registerIpcHandlers({ ipcMain, api, isTrusted: () => true, choosePaths: async () => [], addModelFile: async (p) => p, dropPaths: async () => ({ models: [], documents: [], errors: [] }) });
        const event: InvokeEventLike = { senderFrame: { url: "file:///index.html", parent: null }, sender: { send: () => {}, isDestroyed: () => false, once: () => undefined } };
        const load = () => handlers.get(invokeChannels.loadModel)!(event, { target: "a.gguf", draft: "b.gguf" });
        expect(await load()).toEqual({ ok: false, error: { code: "vocabulary-mismatch", message: "The draft model cannot draft for this target because their vocabularies differ." } });
        failure = new EngineError("context-overflow", "The message is 900 tokens long but the context holds 512: shorten it or raise the context size.");
        expect(await load()).toMatchObject({ ok: false, error: { code: "invalid-request" } });
        failure = new Error("vocabularies differ");
        const log = vi.spyOn(console, "error").mockImplementation(() => {});
        expect(await load()).toMatchObject({ ok: false, error: { code: "internal" } });
        log.mockRestore();
    });
});
