import { appMethods, appStreams, desktopEvents, desktopMethods, methodsOf, type CallMethod } from "../core/api-contract.ts";

export { shellCommands, type ShellCommand } from "../core/api-contract.ts";

/** What the window invokes: every request/response method, sendMessage, and the desktop shell's own. */
export type InvokeMethod = CallMethod | "sendMessage" | keyof typeof desktopMethods;

/**
 * The IPC channel of every invoked message, from the contract (core/api-contract.ts), shared by the
 * preload and the main process's handlers. One channel per message.
 */
export const invokeChannels = Object.fromEntries([
    ...methodsOf(appMethods).map((m) => [m, appMethods[m].ipc]),
    ["sendMessage", appStreams.sendMessage.ipc],
    ...methodsOf(desktopMethods).map((m) => [m, desktopMethods[m].ipc])
]) as Record<InvokeMethod, string>;

/** Main → window messages. */
export const eventChannels = {
    /** (event: AppEvent) to every window. */
    appEvent: appStreams.onAppEvent.events,
    /** (streamId: string, event: AnswerEvent) to the window that sent the message. */
    answerEvent: appStreams.sendMessage.events,
    /** (command: ShellCommand) to the focused window: a menu item or shortcut, or where to look after a drop. */
    shellCommand: desktopEvents.onShellCommand
} as const;

/**
 * Messages only the preload sends, never exposed to the page: the paths of files dropped on the
 * window (the page's File objects carry no path; the preload asks Electron's webUtils for it).
 */
export const preloadChannels = {
    /** (paths: string[]) */
    dropPaths: "presage:drop-paths"
} as const;

/** What every invoke handler resolves to: errors travel as data, so their `code` survives the trip. */
export type IpcResult<T> = { ok: true; value: T } | { ok: false; error: { message: string; code: string } };
