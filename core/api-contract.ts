import { z } from "zod";
import "./zod-config.ts";
import type { AnswerEvent, AppApi, SendMessageRequest } from "./app-api.ts";
import {
    addDocumentsSchema, checkDraftSchema, createConversationSchema, downloadSchema, idSchema, loadModelSchema, modelsFolderSchema, pageLimitSchema, pageOffsetSchema, pairDownloadSchema, pausedSchema, raceSchema,
    searchSchema, sendMessageSchema, settingsPatchSchema, updateConversationSchema, watchSchema
} from "./schemas.ts";

/**
 * How each AppApi method travels: its HTTP route, its IPC channel and the schema of each argument,
 * written once. The HTTP routes (server/app-routes.ts), the IPC handlers (electron/ipc.ts), the
 * preload bridge (electron/bridge.ts) and the window's HTTP client (renderer/src/lib/api.ts) are all
 * derived from these tables, and `satisfies` over AppApi makes a method without an entry (or an
 * entry without a method, or the wrong number of arguments) a type error.
 *
 * Adding a method: declare it in AppApi, add its entry here, implement it in AppService.
 *
 * This file is bundled into the sandboxed preload and the window, so it imports nothing of Node.
 */

export type HttpMethod = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/** Where one argument is in an HTTP request. */
export type HttpSource =
    /** A `:name` segment of the path (percent-encoded by the client). */
    | { in: "path"; name: string }
    /** A query parameter; absent (or empty, from the client) reads as undefined. */
    | { in: "query"; name: string }
    /** The whole JSON body. */
    | { in: "body" }
    /** One field of the JSON body. */
    | { in: "body-field"; name: string };

/** One argument: its schema, what a one-line error calls it, and where HTTP carries it. */
export interface ArgumentSpec {
    schema: z.ZodType;
    what: string;
    http: HttpSource;
}

/** An IPC argument that HTTP does not carry (the desktop-only methods, the stream id). */
export interface IpcArgumentSpec {
    schema: z.ZodType;
    what: string;
}

type IsFunction<T> = T extends (...args: never[]) => unknown ? true : false;
type HasListener<P extends unknown[]> = P extends [infer H, ...infer T] ? (IsFunction<H> extends true ? true : HasListener<T>) : false;
/** The arguments before the listener: what a stream method sends. */
type LeadingArguments<P extends unknown[]> = P extends [infer H, ...infer T] ? (IsFunction<H> extends true ? [] : [H, ...LeadingArguments<T>]) : [];
type ArgumentSpecs<P extends unknown[], S> = { readonly [I in keyof P]-?: S };

/** AppApi methods that deliver events to a listener: answers, app events. */
export type StreamMethod = { [K in keyof AppApi]: HasListener<Parameters<AppApi[K]>> extends true ? K : never }[keyof AppApi];
/** AppApi methods that answer once. */
export type CallMethod = Exclude<keyof AppApi, StreamMethod>;

type CallResult<K extends CallMethod> = Awaited<ReturnType<AppApi[K]>>;

/** One request/response method. */
export interface CallSpec<K extends CallMethod> {
    http: {
        method: HttpMethod;
        path: `/api/${string}`;
        /** What success answers: 204 exactly when the method returns nothing. */
        status: [CallResult<K>] extends [void] ? 204 : 200 | 201 | 202;
    };
    ipc: `presage:${string}`;
    args: ArgumentSpecs<Parameters<AppApi[K]>, ArgumentSpec>;
}

/** One method that streams events: server-sent events over HTTP, an event channel over IPC. */
export interface StreamSpec<K extends StreamMethod> {
    /** The response is `text/event-stream`, one `event: <type>` per event. */
    http: { method: HttpMethod; path: `/api/${string}` };
    /** The invoke channel that starts the stream, or null for a subscription (events only). */
    ipc: `presage:${string}` | null;
    /** The main → window channel its events come on. */
    events: `presage:${string}`;
    args: ArgumentSpecs<LeadingArguments<Parameters<AppApi[K]>>, ArgumentSpec>;
}

const body: HttpSource = { in: "body" };
const path = (name = "id"): HttpSource => ({ in: "path", name });
const arg = (schema: z.ZodType, what: string, http: HttpSource): ArgumentSpec => ({ schema, what, http });

/** Every request/response method of AppApi. */
export const appMethods = {
    getState: { http: { method: "GET", path: "/api/state", status: 200 }, ipc: "presage:get-state", args: [] },
    updateSettings: { http: { method: "PUT", path: "/api/settings", status: 200 }, ipc: "presage:update-settings", args: [arg(settingsPatchSchema, "settings", body)] },
    listModels: { http: { method: "GET", path: "/api/models", status: 200 }, ipc: "presage:list-models", args: [] },
    loadModel: { http: { method: "POST", path: "/api/models/load", status: 200 }, ipc: "presage:load-model", args: [arg(loadModelSchema, "model load request", body)] },
    checkDraft: { http: { method: "POST", path: "/api/models/check-draft", status: 200 }, ipc: "presage:check-draft", args: [arg(checkDraftSchema, "draft check", body)] },
    downloadModel: { http: { method: "POST", path: "/api/models/download", status: 202 }, ipc: "presage:download-model", args: [arg(downloadSchema, "download request", body)] },
    cancelDownload: { http: { method: "DELETE", path: "/api/models/download/:id", status: 204 }, ipc: "presage:cancel-download", args: [arg(idSchema, "download id", path())] },
    pauseDownload: { http: { method: "POST", path: "/api/models/download/:id/pause", status: 204 }, ipc: "presage:pause-download", args: [arg(idSchema, "download id", path())] },
    downloadPair: { http: { method: "POST", path: "/api/models/download-pair", status: 202 }, ipc: "presage:download-pair", args: [arg(pairDownloadSchema, "pair download request", body)] },
    setModelsFolder: { http: { method: "POST", path: "/api/models/folder", status: 200 }, ipc: "presage:set-models-folder", args: [arg(modelsFolderSchema, "models folder", body)] },
    listConversations: {
        http: { method: "GET", path: "/api/conversations", status: 200 }, ipc: "presage:list-conversations",
        // IPC may carry null for "no search".
        args: [arg(searchSchema.nullable().transform((s) => s ?? undefined), "search", { in: "query", name: "search" })]
    },
    createConversation: { http: { method: "POST", path: "/api/conversations", status: 201 }, ipc: "presage:create-conversation", args: [arg(createConversationSchema.optional(), "new conversation", body)] },
    getConversation: { http: { method: "GET", path: "/api/conversations/:id", status: 200 }, ipc: "presage:get-conversation", args: [arg(idSchema, "conversation id", path())] },
    updateConversation: {
        http: { method: "PATCH", path: "/api/conversations/:id", status: 200 }, ipc: "presage:update-conversation",
        args: [arg(idSchema, "conversation id", path()), arg(updateConversationSchema, "conversation change", body)]
    },
    deleteConversation: { http: { method: "DELETE", path: "/api/conversations/:id", status: 204 }, ipc: "presage:delete-conversation", args: [arg(idSchema, "conversation id", path())] },
    stopGeneration: { http: { method: "POST", path: "/api/generations/:id/stop", status: 204 }, ipc: "presage:stop-generation", args: [arg(idSchema, "generation id", path())] },
    race: { http: { method: "POST", path: "/api/race", status: 200 }, ipc: "presage:race", args: [arg(raceSchema, "race request", body)] },
    listDocuments: {
        http: { method: "GET", path: "/api/documents", status: 200 }, ipc: "presage:list-documents",
        // Paged: each source's file lists are one page (a source can hold 100k files).
        args: [arg(pageLimitSchema, "page size", { in: "query", name: "limit" }), arg(pageOffsetSchema, "page offset", { in: "query", name: "offset" })]
    },
    addDocuments: { http: { method: "POST", path: "/api/documents", status: 202 }, ipc: "presage:add-documents", args: [arg(addDocumentsSchema, "documents request", body)] },
    removeDocuments: { http: { method: "DELETE", path: "/api/documents/:id", status: 204 }, ipc: "presage:remove-documents", args: [arg(idSchema, "source id", path())] },
    rescanDocuments: { http: { method: "POST", path: "/api/documents/:id/rescan", status: 204 }, ipc: "presage:rescan-documents", args: [arg(idSchema, "source id", path())] },
    setDocumentsWatch: {
        http: { method: "PATCH", path: "/api/documents/:id", status: 204 }, ipc: "presage:set-documents-watch",
        args: [arg(idSchema, "source id", path()), arg(watchSchema.shape.watch, "watch flag", { in: "body-field", name: "watch" })]
    },
    pauseDocuments: {
        http: { method: "POST", path: "/api/documents/:id/pause", status: 204 }, ipc: "presage:pause-documents",
        args: [arg(idSchema, "source id", path()), arg(pausedSchema.shape.paused, "paused flag", { in: "body-field", name: "paused" })]
    },
    clearHistory: { http: { method: "DELETE", path: "/api/history", status: 204 }, ipc: "presage:clear-history", args: [] },
    rpcWorkersStatus: { http: { method: "GET", path: "/api/rpc-workers", status: 200 }, ipc: "presage:rpc-workers-status", args: [] }
} satisfies { [K in CallMethod]: CallSpec<K> };

/** Every streaming method of AppApi. */
export const appStreams = {
    /** Over IPC the preload adds a stream id before the arguments and picks its events off `events` by it. */
    sendMessage: {
        http: { method: "POST", path: "/api/conversations/:id/messages" }, ipc: "presage:send-message", events: "presage:answer-event",
        args: [arg(idSchema, "conversation id", path()), arg(sendMessageSchema, "message", body)]
    },
    onAppEvent: { http: { method: "GET", path: "/api/events" }, ipc: null, events: "presage:app-event", args: [] }
} satisfies { [K in StreamMethod]: StreamSpec<K> };

/** The native open dialog's options, as the page may ask for them. */
export const choosePathsSchema = z.strictObject({
    kind: z.enum(["folder", "file"]),
    title: z.string().max(200).optional(),
    filters: z.array(z.strictObject({
        name: z.string().min(1).max(100),
        extensions: z.array(z.string().regex(/^(\*|[A-Za-z0-9]{1,16})$/, "expected an extension such as \"gguf\"")).min(1).max(20)
    })).max(10).optional()
});

export type ChoosePathsOptions = z.output<typeof choosePathsSchema>;

/**
 * node:path's isAbsolute for the platform this runs on, written out because this file is bundled
 * into the sandboxed preload, which can load nothing but "electron" (only the main process parses).
 */
function isAbsolutePath(p: string): boolean {
    const platform = (globalThis as { process?: { platform?: string } }).process?.platform;
    return platform === "win32" ? /^([\\/]|[A-Za-z]:[\\/])/.test(p) : p.startsWith("/");
}

/** A file the user picked or dropped: absolute, since the main process has no sensible current folder. */
export const localPathSchema = z.string().min(1).max(4096).refine(isAbsolutePath, { message: "expected an absolute path" });

/** What the shell asks the window to show: from the menu (and its shortcuts) or after a drop. */
export type ShellCommand = "new-chat" | "settings" | "documents" | "models";
export const shellCommands: readonly ShellCommand[] = ["new-chat", "settings", "documents", "models"];

/** What only the desktop shell can do: the window gets these from the bridge, never over HTTP. */
export interface DesktopApi {
    /** A native open dialog (Electron's dialog.showOpenDialog); resolves to the chosen paths, [] if cancelled. */
    choosePaths(options: ChoosePathsOptions): Promise<string[]>;
    /** Shows the models folder in the system's file manager (Electron's shell.openPath). */
    openModelsFolder(): Promise<void>;
    /** Copies a chosen .gguf into the models folder (checked first); resolves to its path there. */
    addModelFile(path: string): Promise<string>;
    /** The menu and its shortcuts (Cmd/Ctrl+N, Cmd/Ctrl+,) or a drop ask the window to show something. */
    onShellCommand(listener: (command: ShellCommand) => void): () => void;
}

type DesktopCall = Exclude<keyof DesktopApi, "onShellCommand">;

/** The desktop shell's own messages, handled in the main process (electron/ipc.ts). */
export const desktopMethods = {
    choosePaths: { ipc: "presage:choose-paths", args: [{ schema: choosePathsSchema, what: "dialog options" }] },
    // Takes no path: only the services' own models folder is ever opened.
    openModelsFolder: { ipc: "presage:open-models-folder", args: [] },
    addModelFile: { ipc: "presage:add-model-file", args: [{ schema: localPathSchema, what: "model file" }] }
} satisfies { [K in DesktopCall]: { ipc: `presage:${string}`; args: ArgumentSpecs<Parameters<DesktopApi[K]>, IpcArgumentSpec> } };

/** The desktop shell's events to the window. */
export const desktopEvents = {
    /** (command: ShellCommand) to the focused window. */
    onShellCommand: "presage:shell-command"
} satisfies { [K in Exclude<keyof DesktopApi, DesktopCall>]: `presage:${string}` };

/**
 * `window.presage`, what the Electron preload exposes: the app API, one method per message, the same
 * shapes as over HTTP (except that sendMessage takes no AbortSignal, which cannot cross the context
 * bridge: stop with stopGeneration), plus what only the desktop shell can do. Methods reject with
 * `{ name: "PresageError", message, code }` (code: AppErrorCode); listeners are called across the
 * bridge for each event, in order; sendMessage resolves after its last event ("done" or "error").
 */
export type PresageBridge = Omit<AppApi, "sendMessage"> & DesktopApi & {
    sendMessage(conversationId: string, request: SendMessageRequest, onEvent: (event: AnswerEvent) => void): Promise<void>;
};

/** Every method name in a table, typed. */
export function methodsOf<T extends object>(table: T): (keyof T & string)[] {
    return Object.keys(table) as (keyof T & string)[];
}
