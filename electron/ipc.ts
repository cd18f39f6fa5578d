import type { AnswerEvent, AppApi, AppErrorCode, SendMessageRequest } from "../core/app-api.ts";
import { ServiceError, asServiceError, firstLine } from "../core/service-error.ts";
import { appMethods, methodsOf, type CallMethod, type ChoosePathsOptions } from "../core/api-contract.ts";
import { dropPathsArguments, ipcArguments, parseIpcArguments, type IpcArgument } from "./ipc-args.ts";
import { eventChannels, invokeChannels, preloadChannels, type InvokeMethod, type IpcResult, type ShellCommand } from "./ipc-channels.ts";

/** The parts of an IpcMainInvokeEvent the handlers read. */
export interface InvokeEventLike {
    /** The frame that sent the message; `parent` is null for a window's top frame. */
    senderFrame: { url: string; parent?: unknown } | null;
    sender: { send(channel: string, ...args: unknown[]): void; isDestroyed(): boolean; once(event: "destroyed", listener: () => void): unknown };
}

/** The part of Electron's ipcMain the handlers use. */
export interface IpcMainLike {
    handle(channel: string, handler: (event: InvokeEventLike, ...args: unknown[]) => Promise<unknown>): void;
    removeHandler(channel: string): void;
}

/** What a drop did: models copied into the models folder, documents being indexed, and what failed. */
export interface DropOutcome {
    models: string[];
    documents: string[];
    errors: string[];
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
    /** Copies a .gguf into the models folder; resolves to its path there. */
    addModelFile: (path: string) => Promise<string>;
    /** Files dropped on the window (paths from the preload). */
    dropPaths: (event: InvokeEventLike, paths: string[]) => Promise<DropOutcome>;
}

type Handler = (event: InvokeEventLike, ...args: unknown[]) => Promise<unknown>;

/**
 * Registers one handler per message of the contract (core/api-contract.ts). Each first checks that
 * the sender is our page's top frame, then checks its arguments with the contract's zod schemas
 * (ipc-args.ts), and only then calls the AppApi method the HTTP routes call. Returns the function that removes them.
 */
export function registerIpcHandlers(options: IpcHandlersOptions): () => void {
    const { api } = options;
    // Every request/response method just calls its AppApi method with the checked arguments.
    const calls = Object.fromEntries(methodsOf(appMethods).map((method): [CallMethod, Handler] => [
        method, (_event, ...args) => (api[method] as (...a: unknown[]) => Promise<unknown>).apply(api, args)
    ])) as Record<CallMethod, Handler>;
    const handlers: Record<InvokeMethod, Handler> = {
        ...calls,
        sendMessage: async (event, streamId, conversationId, request) => {
            // Closing the window stops its answers, as closing an HTTP stream does.
            const controller = new AbortController();
            event.sender.once("destroyed", () => controller.abort());
            await api.sendMessage(conversationId as string, request as SendMessageRequest, (answer: AnswerEvent) => {
                if (!event.sender.isDestroyed()) event.sender.send(eventChannels.answerEvent, streamId, answer);
            }, { signal: controller.signal });
        },
        // Only ever the models folder (asked of the services), never a path from the page.
        openModelsFolder: async () => {
            if (options.openFolder == null) throw new ServiceError("invalid-request", "Opening folders is not available here.");
            await options.openFolder((await api.listModels()).dir);
        },
        choosePaths: (event, opts) => options.choosePaths(event, opts as ChoosePathsOptions),
        addModelFile: (_e, path) => options.addModelFile(path as string)
    };
    const channels: [string, readonly IpcArgument[], Handler][] = (Object.entries(handlers) as [InvokeMethod, Handler][])
        .map(([method, handler]) => [invokeChannels[method], ipcArguments[method], handler]);
    channels.push([preloadChannels.dropPaths, dropPathsArguments, (event, paths) => options.dropPaths(event, paths as string[])]);

    for (const [channel, expected, handler] of channels) {
        options.ipcMain.handle(channel, async (event, ...args): Promise<IpcResult<unknown>> => {
            if (!isOwnTopFrame(event, options.isTrusted))
                return failure("forbidden", "This message did not come from Presage's own window and was refused.");
            try {
                return { ok: true, value: await handler(event, ...parseIpcArguments(channel, expected, args)) };
            } catch (err) {
                const known = asServiceError(err);
                if (known != null) return failure(known.code, known.message);
                console.error(`presage: ${channel} failed: ${(err as Error)?.stack ?? err}`);
                return failure("internal", `Something went wrong inside Presage (${firstLine(err)}); try again.`);
            }
        });
    }
    return () => {
        for (const [channel] of channels) options.ipcMain.removeHandler(channel);
    };
}

/** Our page, and its top frame: an embedded frame (even of our own file) gets nothing. */
function isOwnTopFrame(event: InvokeEventLike, isTrusted: (url: string | null) => boolean): boolean {
    const frame = event.senderFrame;
    if (frame == null || frame.parent != null) return false;
    return isTrusted(frame.url ?? null);
}

/** Sends every app event to each window (all of them show our one page). */
export function forwardAppEvents(api: AppApi, windows: () => { send(channel: string, ...args: unknown[]): void; isDestroyed(): boolean }[]): () => void {
    return api.onAppEvent((event) => {
        for (const w of windows()) if (!w.isDestroyed()) w.send(eventChannels.appEvent, event);
    });
}

/** Asks a window to show something (a menu item, a shortcut, or the result of a drop). */
export function sendShellCommand(contents: { send(channel: string, ...args: unknown[]): void; isDestroyed(): boolean } | null | undefined, command: ShellCommand): void {
    if (contents != null && !contents.isDestroyed()) contents.send(eventChannels.shellCommand, command);
}

function failure(code: AppErrorCode, message: string): IpcResult<never> {
    return { ok: false, error: { code, message } };
}
