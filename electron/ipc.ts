import type { AnswerEvent, AppApi, AppErrorCode } from "../server/app-api.ts";
import { ServiceError, firstLine } from "../server/services/service-error.ts";
import type { ChoosePathsOptions } from "./bridge.ts";
import { eventChannels, invokeChannels, type InvokeMethod, type IpcResult } from "./ipc-channels.ts";

/** The parts of an IpcMainInvokeEvent the handlers read. */
export interface InvokeEventLike {
    senderFrame: { url: string } | null;
    sender: { send(channel: string, ...args: unknown[]): void; isDestroyed(): boolean; once(event: "destroyed", listener: () => void): unknown };
}

/** The part of Electron's ipcMain the handlers use. */
export interface IpcMainLike {
    handle(channel: string, handler: (event: InvokeEventLike, ...args: unknown[]) => Promise<unknown>): void;
    removeHandler(channel: string): void;
}

export interface IpcHandlersOptions {
    ipcMain: IpcMainLike;
    api: AppApi;
    /** Whether the frame that sent a message is our own page (see sender-check.ts). */
    isTrusted: (frameUrl: string | null) => boolean;
    /** The native open dialog for the window of `event`. */
    choosePaths: (event: InvokeEventLike, options: ChoosePathsOptions) => Promise<string[]>;
    /** Shows a folder in the system's file manager (Electron's shell.openPath). */
    openFolder?: (path: string) => Promise<void>;
}

type Handler = (event: InvokeEventLike, ...args: unknown[]) => Promise<unknown>;

/**
 * Registers one handler per app API message. Each checks its sender first, then calls the same
 * AppApi method the HTTP routes call; arguments are validated by the services. Returns the function
 * that removes them.
 */
export function registerIpcHandlers(options: IpcHandlersOptions): () => void {
    const { api } = options;
    const s = (v: unknown) => v as string;
    const handlers: Record<InvokeMethod, Handler> = {
        getState: () => api.getState(),
        updateSettings: (_e, patch) => api.updateSettings(patch as never),
        listModels: () => api.listModels(),
        loadModel: (_e, request) => api.loadModel(request as never),
        checkDraft: (_e, request) => api.checkDraft(request as never),
        downloadModel: (_e, request) => api.downloadModel(request as never),
        cancelDownload: (_e, id) => api.cancelDownload(s(id)),
        pauseDownload: (_e, id) => api.pauseDownload(s(id)),
        downloadPair: (_e, request) => api.downloadPair(request as never),
        setModelsFolder: (_e, request) => api.setModelsFolder(request as never),
        // Only ever the models folder (asked of the services), never a path from the page.
        openModelsFolder: async () => {
            if (options.openFolder == null) throw new ServiceError("invalid-request", "Opening folders is not available here.");
            await options.openFolder((await api.listModels()).dir);
        },
        listConversations: (_e, search) => api.listConversations(search == null ? undefined : s(search)),
        createConversation: (_e, request) => api.createConversation((request ?? {}) as never),
        getConversation: (_e, id) => api.getConversation(s(id)),
        updateConversation: (_e, id, patch) => api.updateConversation(s(id), patch as never),
        deleteConversation: (_e, id) => api.deleteConversation(s(id)),
        sendMessage: async (event, streamId, conversationId, request) => {
            // Closing the window stops its answers, as closing an HTTP stream does.
            const controller = new AbortController();
            event.sender.once("destroyed", () => controller.abort());
            await api.sendMessage(s(conversationId), request as never, (answer: AnswerEvent) => {
                if (!event.sender.isDestroyed()) event.sender.send(eventChannels.answerEvent, streamId, answer);
            }, { signal: controller.signal });
        },
        stopGeneration: (_e, id) => api.stopGeneration(s(id)),
        race: (_e, request) => api.race(request as never),
        listDocuments: () => api.listDocuments(),
        addDocuments: (_e, request) => api.addDocuments(request as never),
        removeDocuments: (_e, id) => api.removeDocuments(s(id)),
        rescanDocuments: (_e, id) => api.rescanDocuments(s(id)),
        setDocumentsWatch: (_e, id, watch) => api.setDocumentsWatch(s(id), watch as boolean),
        clearHistory: () => api.clearHistory(),
        choosePaths: (event, opts) => options.choosePaths(event, validChooseOptions(opts))
    };
    for (const [method, handler] of Object.entries(handlers) as [InvokeMethod, Handler][]) {
        options.ipcMain.handle(invokeChannels[method], async (event, ...args): Promise<IpcResult<unknown>> => {
            if (!options.isTrusted(event.senderFrame?.url ?? null))
                return failure("forbidden", "This message did not come from Presage's own window and was refused.");
            try {
                return { ok: true, value: await handler(event, ...args) };
            } catch (err) {
                if (err instanceof ServiceError) return failure(err.code, err.message);
                console.error(`presage: ${method} failed: ${(err as Error)?.stack ?? err}`);
                return failure("internal", `Something went wrong inside Presage (${firstLine(err)}); try again.`);
            }
        });
    }
    return () => {
        for (const channel of Object.values(invokeChannels)) options.ipcMain.removeHandler(channel);
    };
}

/** Sends every app event to each window (all of them show our one page). */
export function forwardAppEvents(api: AppApi, windows: () => { send(channel: string, ...args: unknown[]): void; isDestroyed(): boolean }[]): () => void {
    return api.onAppEvent((event) => {
        for (const w of windows()) if (!w.isDestroyed()) w.send(eventChannels.appEvent, event);
    });
}

function failure(code: AppErrorCode, message: string): IpcResult<never> {
    return { ok: false, error: { code, message } };
}

function validChooseOptions(value: unknown): ChoosePathsOptions {
    const o = (value ?? {}) as Partial<ChoosePathsOptions>;
    if (o.kind !== "folder" && o.kind !== "file") throw new ServiceError("invalid-request", 'choosePaths needs kind "folder" or "file".');
    const filters = Array.isArray(o.filters)
        ? o.filters.filter((f) => typeof f?.name === "string" && Array.isArray(f.extensions)).map((f) => ({ name: f.name, extensions: f.extensions.filter((e) => typeof e === "string") }))
        : undefined;
    return { kind: o.kind, title: typeof o.title === "string" ? o.title.slice(0, 200) : undefined, filters };
}
