import type { AnswerEvent, AppEvent } from "../core/app-api.ts";
import { appMethods, desktopMethods, methodsOf, shellCommands, type PresageBridge, type ShellCommand } from "../core/api-contract.ts";
import { eventChannels, invokeChannels, type InvokeMethod, type IpcResult } from "./ipc-channels.ts";

export type { ChoosePathsOptions, PresageBridge } from "../core/api-contract.ts";

/** The part of Electron's ipcRenderer the bridge uses (so it can be exercised without Electron). */
export interface IpcRendererLike {
    invoke(channel: string, ...args: unknown[]): Promise<unknown>;
    on(channel: string, listener: (event: unknown, ...args: unknown[]) => void): unknown;
    removeListener(channel: string, listener: (event: unknown, ...args: unknown[]) => void): unknown;
}

/** What a failed call rejects with: a plain object, because contextBridge keeps only an Error's message. */
export interface BridgeError {
    name: "PresageError";
    message: string;
    code: string;
}

/**
 * Builds `window.presage` over ipcRenderer: one function per message of the contract
 * (core/api-contract.ts), each sending on its own channel exactly as many arguments as the message
 * takes, whatever the page passes. The page never gets ipcRenderer itself.
 */
export function createBridge(ipc: IpcRendererLike): PresageBridge {
    async function call<T>(method: InvokeMethod, ...args: unknown[]): Promise<T> {
        const result = (await ipc.invoke(invokeChannels[method], ...args)) as IpcResult<T>;
        if (result.ok) return result.value;
        const error: BridgeError = { name: "PresageError", message: result.error.message, code: result.error.code };
        throw error;
    }
    const send = (method: InvokeMethod, arity: number) => (...args: unknown[]) => call(method, ...args.slice(0, arity));
    let streams = 0;

    const bridge: Record<string, (...args: never[]) => unknown> = {};
    for (const method of methodsOf(appMethods)) bridge[method] = send(method, appMethods[method].args.length);
    for (const method of methodsOf(desktopMethods)) bridge[method] = send(method, desktopMethods[method].args.length);
    return {
        ...bridge as unknown as Omit<PresageBridge, "sendMessage" | "onAppEvent" | "onShellCommand">,
        async sendMessage(conversationId, request, onEvent) {
            // The answer's events come back on one channel for all streams, tagged with this id.
            const streamId = `${Date.now().toString(36)}-${++streams}`;
            const listener = (_event: unknown, ...args: unknown[]) => {
                if (args[0] === streamId) onEvent(args[1] as AnswerEvent);
            };
            ipc.on(eventChannels.answerEvent, listener);
            try {
                await call<void>("sendMessage", streamId, conversationId, request);
            } finally {
                ipc.removeListener(eventChannels.answerEvent, listener);
            }
        },
        onAppEvent(listener: (event: AppEvent) => void) {
            const handler = (_event: unknown, ...args: unknown[]) => listener(args[0] as AppEvent);
            ipc.on(eventChannels.appEvent, handler);
            return () => void ipc.removeListener(eventChannels.appEvent, handler);
        },
        onShellCommand(listener: (command: ShellCommand) => void) {
            const handler = (_event: unknown, ...args: unknown[]) => {
                if (shellCommands.includes(args[0] as ShellCommand)) listener(args[0] as ShellCommand);
            };
            ipc.on(eventChannels.shellCommand, handler);
            return () => void ipc.removeListener(eventChannels.shellCommand, handler);
        }
    };
}
