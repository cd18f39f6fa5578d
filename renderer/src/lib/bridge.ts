import type { AnswerEvent, AppApi, SendMessageRequest } from "./types.ts";

/**
 * What the Electron preload exposes as `window.presage` (contextBridge.exposeInMainWorld("presage", …)):
 * the app API (AppApi in server/app-api.ts), one method per message, the same shapes as over HTTP —
 * except that sendMessage takes no AbortSignal (it cannot cross the context bridge: stop with
 * stopGeneration) — plus the native open dialog.
 *
 * Methods reject with an Error whose message is the user-facing sentence and, where known, `code`
 * (AppErrorCode). onAppEvent's listener and sendMessage's onEvent are called across the bridge for
 * each event, in order; sendMessage resolves after its last event ("done" or "error").
 */
export interface PresageBridge extends Omit<AppApi, "sendMessage"> {
    /** POST /api/conversations/:id/messages, its AnswerEvents delivered to `onEvent`. */
    sendMessage(conversationId: string, request: SendMessageRequest, onEvent: (event: AnswerEvent) => void): Promise<void>;
    /** A native open dialog (Electron's dialog.showOpenDialog); resolves to the chosen paths, [] if cancelled. */
    choosePaths(options: { kind: "folder" | "file"; title?: string; filters?: { name: string; extensions: string[] }[] }): Promise<string[]>;
    /** Shows the models folder in the system's file manager (Electron's shell.openPath). */
    openModelsFolder(): Promise<void>;
    /** Desktop only: copies a chosen .gguf into the models folder (checked first); resolves to its path there. */
    addModelFile?(path: string): Promise<string>;
    /** Desktop only: the menu and its shortcuts (Cmd/Ctrl+N, Cmd/Ctrl+,) or a drop ask the window to show something. */
    onShellCommand?(listener: (command: "new-chat" | "settings" | "documents" | "models") => void): () => void;
}

declare global {
    interface Window {
        presage?: PresageBridge;
    }
}
