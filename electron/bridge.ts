import type {
    AddDocumentsRequest, AnswerEvent, AppApi, AppEvent, CreateConversationRequest, DownloadRequest, LoadModelRequest, ModelsFolderRequest, PairDownloadRequest,
    RaceRequest, SendMessageRequest, Settings, UpdateConversationRequest
} from "../core/app-api.ts";
import { eventChannels, invokeChannels, shellCommands, type InvokeMethod, type IpcResult, type ShellCommand } from "./ipc-channels.ts";

/** The options of the native open dialog. */
export interface ChoosePathsOptions {
    kind: "folder" | "file";
    title?: string;
    filters?: { name: string; extensions: string[] }[];
}

/** `window.presage`: the app API (one method per message) plus what only the desktop shell can do. */
export interface PresageBridge extends Omit<AppApi, "sendMessage"> {
    sendMessage(conversationId: string, request: SendMessageRequest, onEvent: (event: AnswerEvent) => void): Promise<void>;
    /** A native open dialog; resolves to the chosen paths, or [] if cancelled. */
    choosePaths(options: ChoosePathsOptions): Promise<string[]>;
    /** Shows the models folder in the system's file manager. */
    openModelsFolder(): Promise<void>;
    /** Copies a chosen .gguf into the models folder (checked first); resolves to its path there. */
    addModelFile(path: string): Promise<string>;
    /** Menu items, their shortcuts (Cmd/Ctrl+N, Cmd/Ctrl+,) and drops ask the window to show something. */
    onShellCommand(listener: (command: ShellCommand) => void): () => void;
}

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
 * Builds `window.presage` over ipcRenderer. Every method is written out, typed, and sends only its
 * own arguments on its own channel: the page never gets ipcRenderer itself.
 */
export function createBridge(ipc: IpcRendererLike): PresageBridge {
    async function call<T>(method: InvokeMethod, ...args: unknown[]): Promise<T> {
        const result = (await ipc.invoke(invokeChannels[method], ...args)) as IpcResult<T>;
        if (result.ok) return result.value;
        const error: BridgeError = { name: "PresageError", message: result.error.message, code: result.error.code };
        throw error;
    }
    let streams = 0;

    return {
        getState: () => call("getState"),
        updateSettings: (patch: Partial<Settings>) => call("updateSettings", patch),
        listModels: () => call("listModels"),
        loadModel: (request: LoadModelRequest) => call("loadModel", request),
        checkDraft: (request: { target: string; draft: string }) => call("checkDraft", request),
        downloadModel: (request: DownloadRequest) => call("downloadModel", request),
        cancelDownload: (id: string) => call("cancelDownload", id),
        pauseDownload: (id: string) => call("pauseDownload", id),
        downloadPair: (request: PairDownloadRequest) => call("downloadPair", request),
        setModelsFolder: (request: ModelsFolderRequest) => call("setModelsFolder", request),
        openModelsFolder: () => call("openModelsFolder"),
        listConversations: (search?: string) => call("listConversations", search),
        createConversation: (request: CreateConversationRequest) => call("createConversation", request),
        getConversation: (id: string) => call("getConversation", id),
        updateConversation: (id: string, patch: UpdateConversationRequest) => call("updateConversation", id, patch),
        deleteConversation: (id: string) => call("deleteConversation", id),
        async sendMessage(conversationId: string, request: SendMessageRequest, onEvent: (event: AnswerEvent) => void) {
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
        stopGeneration: (generationId: string) => call("stopGeneration", generationId),
        race: (request: RaceRequest) => call("race", request),
        listDocuments: () => call("listDocuments"),
        addDocuments: (request: AddDocumentsRequest) => call("addDocuments", request),
        removeDocuments: (id: string) => call("removeDocuments", id),
        rescanDocuments: (id: string) => call("rescanDocuments", id),
        setDocumentsWatch: (id: string, watch: boolean) => call("setDocumentsWatch", id, watch),
        clearHistory: () => call("clearHistory"),
        onAppEvent(listener: (event: AppEvent) => void) {
            const handler = (_event: unknown, ...args: unknown[]) => listener(args[0] as AppEvent);
            ipc.on(eventChannels.appEvent, handler);
            return () => void ipc.removeListener(eventChannels.appEvent, handler);
        },
        choosePaths: (options: ChoosePathsOptions) => call("choosePaths", options),
        addModelFile: (path: string) => call("addModelFile", path),
        onShellCommand(listener: (command: ShellCommand) => void) {
            const handler = (_event: unknown, ...args: unknown[]) => {
                if (shellCommands.includes(args[0] as ShellCommand)) listener(args[0] as ShellCommand);
            };
            ipc.on(eventChannels.shellCommand, handler);
            return () => void ipc.removeListener(eventChannels.shellCommand, handler);
        }
    };
}
