import { isAbsolute } from "node:path";
import { z } from "zod";
import {
    addDocumentsSchema, checkDraftSchema, createConversationSchema, downloadSchema, idSchema, loadModelSchema, modelsFolderSchema, pairDownloadSchema, raceSchema,
    searchSchema, sendMessageSchema, settingsPatchSchema, updateConversationSchema, watchSchema
} from "../core/schemas.ts";
import { ServiceError } from "../core/service-error.ts";
import { validate } from "../core/validation.ts";
import type { InvokeMethod } from "./ipc-channels.ts";

/** One argument of an IPC message: its schema and what the error calls it. */
export interface IpcArgument {
    schema: z.ZodType;
    what: string;
}

const arg = (schema: z.ZodType, what: string): IpcArgument => ({ schema, what });

/** The native open dialog's options, as the page may ask for them. */
export const choosePathsSchema = z.strictObject({
    kind: z.enum(["folder", "file"]),
    title: z.string().max(200).optional(),
    filters: z.array(z.strictObject({
        name: z.string().min(1).max(100),
        extensions: z.array(z.string().regex(/^(\*|[A-Za-z0-9]{1,16})$/, "expected an extension such as \"gguf\"")).min(1).max(20)
    })).max(10).optional()
});

/** A file the user picked or dropped: absolute, since the main process has no sensible current folder. */
export const localPathSchema = z.string().min(1).max(4096).refine((p) => isAbsolute(p), { message: "expected an absolute path" });

/** Tags one answer's events on the shared answer channel (made by the preload). */
export const streamIdSchema = z.string().min(1).max(100);

/**
 * The arguments of every IPC message, checked in the handler before anything runs. The schemas are
 * the ones the HTTP routes' services use (core/schemas.ts), and the names match theirs, so
 * a bad argument gets the same one-line error over IPC as over HTTP.
 */
export const ipcArguments: Record<InvokeMethod, readonly IpcArgument[]> = {
    getState: [],
    updateSettings: [arg(settingsPatchSchema, "settings")],
    listModels: [],
    loadModel: [arg(loadModelSchema, "model load request")],
    checkDraft: [arg(checkDraftSchema, "draft check")],
    downloadModel: [arg(downloadSchema, "download request")],
    cancelDownload: [arg(idSchema, "download id")],
    pauseDownload: [arg(idSchema, "download id")],
    downloadPair: [arg(pairDownloadSchema, "pair download request")],
    setModelsFolder: [arg(modelsFolderSchema, "models folder")],
    // Takes no path: only the services' own models folder is ever opened.
    openModelsFolder: [],
    listConversations: [arg(searchSchema.nullable(), "search")],
    createConversation: [arg(createConversationSchema.optional(), "new conversation")],
    getConversation: [arg(idSchema, "conversation id")],
    updateConversation: [arg(idSchema, "conversation id"), arg(updateConversationSchema, "conversation change")],
    deleteConversation: [arg(idSchema, "conversation id")],
    sendMessage: [arg(streamIdSchema, "stream id"), arg(idSchema, "conversation id"), arg(sendMessageSchema, "message")],
    stopGeneration: [arg(idSchema, "generation id")],
    race: [arg(raceSchema, "race request")],
    listDocuments: [],
    addDocuments: [arg(addDocumentsSchema, "documents request")],
    removeDocuments: [arg(idSchema, "source id")],
    rescanDocuments: [arg(idSchema, "source id")],
    setDocumentsWatch: [arg(idSchema, "source id"), arg(watchSchema.shape.watch, "watch flag")],
    clearHistory: [],
    choosePaths: [arg(choosePathsSchema, "dialog options")],
    addModelFile: [arg(localPathSchema, "model file")]
};

/** The paths the preload reports for a drop. */
export const dropPathsArguments: readonly IpcArgument[] = [arg(z.array(localPathSchema).min(1).max(1000), "dropped paths")];

/**
 * Checks a message's arguments; returns them parsed (missing trailing ones as undefined).
 * @throws ServiceError "invalid-request" with one line naming the wrong argument or field.
 */
export function parseIpcArguments(channel: string, expected: readonly IpcArgument[], args: readonly unknown[]): unknown[] {
    if (args.length > expected.length)
        throw new ServiceError("invalid-request", `Invalid ${channel} message: it takes ${expected.length} argument${expected.length === 1 ? "" : "s"}, not ${args.length}.`);
    return expected.map((a, i) => validate(a.schema, args[i], a.what));
}
