import { pathToFileURL } from "node:url";
import { beforeEach, describe, expect, it } from "vitest";
import type { AppApi } from "../core/app-api.ts";
import { ipcArguments } from "./ipc-args.ts";
import { invokeChannels, preloadChannels, type InvokeMethod, type IpcResult } from "./ipc-channels.ts";
import { registerIpcHandlers, type InvokeEventLike, type IpcMainLike } from "./ipc.ts";
import { isTrustedSender } from "./sender-check.ts";

const page = pathToFileURL("/opt/Presage/resources/app.asar/renderer/dist/index.html").href;

/**
 * A valid call of each message whose arguments are not just ids: the others (a new method taking an
 * id, say) are called with "1" for each argument, and the test below fails if that is not valid.
 */
const examples: Partial<Record<InvokeMethod, unknown[]>> = {
    updateSettings: [{ theme: "dark" }],
    loadModel: [{ target: "m.gguf" }],
    checkDraft: [{ target: "a.gguf", draft: "b.gguf" }],
    downloadModel: [{ uri: "hf:owner/repo/file.gguf" }],
    downloadPair: [{ pairId: "qwen3" }],
    setModelsFolder: [{ dir: "/home/u/models" }],
    listConversations: ["cats"],
    listDocuments: [100, 0],
    createConversation: [{ title: "t" }],
    updateConversation: ["1", { title: "x" }],
    sendMessage: ["s1", "1", { content: "hi" }],
    race: [{ prompt: "p" }],
    addDocuments: [{ path: "/docs" }],
    setDocumentsWatch: ["1", true],
    pauseDocuments: ["1", true],
    choosePaths: [{ kind: "file", filters: [{ name: "Models", extensions: ["gguf"] }] }],
    addModelFile: ["/home/u/model.gguf"]
};
const validArgs = Object.fromEntries((Object.keys(invokeChannels) as InvokeMethod[])
    .map((m) => [m, examples[m] ?? ipcArguments[m].map(() => "1")])) as Record<InvokeMethod, unknown[]>;

/** The handlers over a recording AppApi (ours, not Electron's) and a recording ipcMain. */
function setup() {
    const calls: string[] = [];
    const api = new Proxy({}, {
        get: (_t, method: string) => async (...args: unknown[]) => {
            calls.push(method);
            if (method === "onAppEvent") return () => undefined;
            return { method, args };
        }
    }) as AppApi;
    const handlers = new Map<string, (event: InvokeEventLike, ...args: unknown[]) => Promise<unknown>>();
    const ipcMain: IpcMainLike = { handle: (c, h) => void handlers.set(c, h), removeHandler: (c) => void handlers.delete(c) };
    const unregister = registerIpcHandlers({
        ipcMain, api,
        isTrusted: (url) => isTrustedSender(url, { fileUrl: page }),
        choosePaths: async () => (calls.push("choosePaths"), []),
        addModelFile: async (p) => (calls.push("addModelFile"), p),
        // openModelsFolder asks the services for the folder (recorded as listModels), then opens it.
        openFolder: async () => undefined,
        dropPaths: async () => (calls.push("dropPaths"), { models: [], documents: [], errors: [] })
    });
    const sender = { send: () => undefined, isDestroyed: () => false, once: () => sender };
    const call = (channel: string, frame: InvokeEventLike["senderFrame"], args: unknown[]) =>
        handlers.get(channel)!({ senderFrame: frame, sender }, ...args) as Promise<IpcResult<unknown>>;
    return { calls, handlers, unregister, call };
}

/** An invalid value per argument where 12345 (the default below) is a valid one: a page size and offset are numbers. */
const invalidArgs: Partial<Record<string, unknown[]>> = { [invokeChannels.listDocuments]: [12345, -1] };

const everyMessage: [string, unknown[]][] = [
    ...(Object.keys(validArgs) as InvokeMethod[]).map((m): [string, unknown[]] => [invokeChannels[m], validArgs[m]]),
    [preloadChannels.dropPaths, [["/home/u/notes"]]]
];

describe("every IPC handler", () => {
    let s: ReturnType<typeof setup>;
    beforeEach(() => {
        s = setup();
    });

    it("is registered, and removed again", () => {
        expect([...s.handlers.keys()].sort()).toEqual(everyMessage.map(([c]) => c).sort());
        s.unregister();
        expect(s.handlers.size).toBe(0);
    });

    it("answers our page's top frame", async () => {
        for (const [channel, args] of everyMessage) {
            const result = await s.call(channel, { url: page + "#/chat", parent: null }, args);
            expect(result, channel).toMatchObject({ ok: true });
        }
        expect(s.calls).toHaveLength(everyMessage.length);
    });

    it("refuses any other sender before looking at the message", async () => {
        const strangers: InvokeEventLike["senderFrame"][] = [
            null,
            { url: "https://evil.example/", parent: null },
            { url: "file:///tmp/index.html", parent: null },
            { url: "", parent: null },
            // Our own page embedded in a frame is not our window.
            { url: page, parent: { url: page } }
        ];
        for (const frame of strangers)
            for (const [channel, args] of everyMessage) {
                const result = await s.call(channel, frame, args);
                expect(result, `${channel} from ${JSON.stringify(frame)}`).toEqual({ ok: false, error: { code: "forbidden", message: "This message did not come from Presage's own window and was refused." } });
            }
        expect(s.calls).toEqual([]);
    });

    it("checks every argument with its schema, and extra arguments, before calling anything", async () => {
        for (const [channel, args] of everyMessage) {
            const tooMany = await s.call(channel, { url: page, parent: null }, [...args, "extra"]);
            expect(tooMany, channel).toMatchObject({ ok: false, error: { code: "invalid-request", message: expect.stringMatching(/^Invalid presage:[a-z-]+ message: it takes \d arguments?, not \d+\.$/) } });
            for (let i = 0; i < args.length; i++) {
                const bad = [...args];
                bad[i] = invalidArgs[channel]?.[i] ?? 12345;
                const result = await s.call(channel, { url: page, parent: null }, bad);
                expect(result, `${channel} argument ${i}`).toMatchObject({ ok: false, error: { code: "invalid-request", message: expect.stringMatching(/^Invalid [a-z ]+: .+\.$/) } });
                expect((result as { error: { message: string } }).error.message).not.toContain("\n");
            }
        }
        expect(s.calls).toEqual([]);
    });

    it("takes relative paths from nowhere", async () => {
        const frame = { url: page, parent: null };
        expect(await s.call(invokeChannels.addModelFile, frame, ["model.gguf"])).toMatchObject({ ok: false, error: { message: "Invalid model file: expected an absolute path." } });
        expect(await s.call(preloadChannels.dropPaths, frame, [["notes"]])).toMatchObject({ ok: false, error: { message: "Invalid dropped paths: 0: expected an absolute path." } });
        expect(await s.call(preloadChannels.dropPaths, frame, [[]])).toMatchObject({ ok: false, error: { code: "invalid-request" } });
        expect(s.calls).toEqual([]);
    });

    it("has an argument list for every message", () => {
        expect(Object.keys(ipcArguments).sort()).toEqual(Object.keys(invokeChannels).sort());
        for (const m of Object.keys(validArgs) as InvokeMethod[]) expect(ipcArguments[m].length, m).toBe(validArgs[m].length);
    });
});
