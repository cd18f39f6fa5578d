/**
 * The IPC channel of every app API method (server/app-api.ts), shared by the preload and the main
 * process's handlers so that the two cannot drift apart. One channel per message.
 */
export const invokeChannels = {
    getState: "presage:get-state",
    updateSettings: "presage:update-settings",
    listModels: "presage:list-models",
    loadModel: "presage:load-model",
    checkDraft: "presage:check-draft",
    downloadModel: "presage:download-model",
    cancelDownload: "presage:cancel-download",
    pauseDownload: "presage:pause-download",
    downloadPair: "presage:download-pair",
    setModelsFolder: "presage:set-models-folder",
    openModelsFolder: "presage:open-models-folder",
    listConversations: "presage:list-conversations",
    createConversation: "presage:create-conversation",
    getConversation: "presage:get-conversation",
    updateConversation: "presage:update-conversation",
    deleteConversation: "presage:delete-conversation",
    sendMessage: "presage:send-message",
    stopGeneration: "presage:stop-generation",
    race: "presage:race",
    listDocuments: "presage:list-documents",
    addDocuments: "presage:add-documents",
    removeDocuments: "presage:remove-documents",
    rescanDocuments: "presage:rescan-documents",
    setDocumentsWatch: "presage:set-documents-watch",
    clearHistory: "presage:clear-history",
    choosePaths: "presage:choose-paths",
    addModelFile: "presage:add-model-file"
} as const;

export type InvokeMethod = keyof typeof invokeChannels;

/** Main → window messages. */
export const eventChannels = {
    /** (event: AppEvent) to every window. */
    appEvent: "presage:app-event",
    /** (streamId: string, event: AnswerEvent) to the window that sent the message. */
    answerEvent: "presage:answer-event",
    /** (command: ShellCommand) to the focused window: a menu item or shortcut, or where to look after a drop. */
    shellCommand: "presage:shell-command"
} as const;

/**
 * Messages only the preload sends, never exposed to the page: the paths of files dropped on the
 * window (the page's File objects carry no path; the preload asks Electron's webUtils for it).
 */
export const preloadChannels = {
    /** (paths: string[]) */
    dropPaths: "presage:drop-paths"
} as const;

/** What the shell asks the window to show: from the menu (and its shortcuts) or after a drop. */
export type ShellCommand = "new-chat" | "settings" | "documents" | "models";
export const shellCommands: readonly ShellCommand[] = ["new-chat", "settings", "documents", "models"];

/** What every invoke handler resolves to: errors travel as data, so their `code` survives the trip. */
export type IpcResult<T> = { ok: true; value: T } | { ok: false; error: { message: string; code: string } };
