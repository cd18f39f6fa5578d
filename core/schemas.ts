import { z } from "zod";
import "./zod-config.ts";
import type {
    AddDocumentsRequest, CreateConversationRequest, DownloadRequest, LoadModelRequest, ModelsFolderRequest, PairDownloadRequest, RaceRequest, SamplingSettings,
    SendMessageRequest, Settings, StrategyName, UpdateConversationRequest
} from "./app-api.ts";

/** zod schemas of the app API's requests (server/app-api.ts); `satisfies` keeps them in step with the contract. */

export const strategyNameSchema = z.enum(["none", "draft", "ngram", "early-exit", "retrieval", "history", "auto"]) satisfies z.ZodType<StrategyName>;

export const samplingPatchSchema = z.strictObject({
    temperature: z.number().min(0).max(10),
    topK: z.number().int().min(0).max(100_000),
    topP: z.number().min(0).max(1),
    minP: z.number().min(0).max(1),
    repeatPenalty: z.number().min(0).max(10),
    maxTokens: z.number().int().min(1).max(1_000_000),
    seed: z.number().int().min(0).max(0x7fffffff).nullable()
}).partial() satisfies z.ZodType<Partial<SamplingSettings>>;

export const settingsPatchSchema = z.strictObject({
    strategies: z.strictObject({
        auto: z.boolean(),
        draft: z.boolean(),
        ngram: z.boolean(),
        retrieval: z.boolean(),
        history: z.boolean(),
        "early-exit": z.boolean()
    }).partial(),
    exact: z.boolean(),
    maxDraft: z.union([z.number().int().min(1).max(64), z.literal("auto")]),
    sampling: samplingPatchSchema,
    backend: z.enum(["auto", "cpu", "metal", "cuda", "vulkan"]),
    gpuLayers: z.union([z.number().int().min(0).max(100_000), z.literal("auto"), z.literal("max")]),
    contextSize: z.union([z.number().int().min(64).max(1 << 20), z.literal("auto")]),
    threads: z.number().int().min(0).max(1024),
    // Each entry is checked as host:port (and written as llama.cpp takes it) by the app service.
    rpcWorkers: z.array(z.string().min(1).max(300)).max(16),
    targetModel: z.string().min(1).nullable(),
    draftModel: z.string().min(1).nullable(),
    theme: z.enum(["light", "dark", "system"]),
    historyEnabled: z.boolean(),
    indexMaxFiles: z.number().int().min(1).max(100_000_000),
    indexMaxBytes: z.number().int().min(1024).max(Number.MAX_SAFE_INTEGER)
}).partial();

/** What PUT /api/settings takes: any subset, with `strategies` and `sampling` partial too. */
export type SettingsPatch = z.output<typeof settingsPatchSchema>;
// A full Settings object must always be a valid patch.
void ((s: Settings): SettingsPatch => s);

const modelName = z.string().min(1).max(4096);

export const loadModelSchema = z.strictObject({
    target: modelName,
    draft: modelName.nullable().optional()
}) satisfies z.ZodType<LoadModelRequest>;

export const checkDraftSchema = z.strictObject({ target: modelName, draft: modelName });

export const downloadSchema = z.strictObject({
    uri: z.string().min(1).max(4096).refine((u) => /^hf:[^/\s]+\/[^/\s]+\/\S+$/.test(u) || /^https?:\/\/\S+$/.test(u), {
        message: 'expected "hf:owner/repo/file.gguf" or an http(s) URL'
    })
}) satisfies z.ZodType<DownloadRequest>;

export const idSchema = z.string().min(1).max(200);

export const pairDownloadSchema = z.strictObject({ pairId: z.string().min(1).max(200) }) satisfies z.ZodType<PairDownloadRequest>;

export const modelsFolderSchema = z.strictObject({ dir: z.string().min(1).max(4096) }) satisfies z.ZodType<ModelsFolderRequest>;

export const createConversationSchema = z.strictObject({
    title: z.string().max(500).optional(),
    systemPrompt: z.string().max(100_000).optional(),
    sampling: samplingPatchSchema.optional(),
    thinking: z.boolean().nullable().optional()
}) satisfies z.ZodType<CreateConversationRequest>;

export const updateConversationSchema = z.strictObject({
    title: z.string().max(500).optional(),
    systemPrompt: z.string().max(100_000).optional(),
    sampling: samplingPatchSchema.optional(),
    thinking: z.boolean().nullable().optional(),
    showVersion: idSchema.optional()
}) satisfies z.ZodType<UpdateConversationRequest>;

export const sendMessageSchema = z.strictObject({
    content: z.string().max(1_000_000).optional(),
    editMessageId: idSchema.optional(),
    regenerate: z.boolean().optional(),
    strategies: z.array(strategyNameSchema).max(10).optional()
}).refine((r) => (r.regenerate === true) !== (r.content != null), {
    message: "send { content } (optionally with editMessageId) or { regenerate: true }"
}).refine((r) => r.editMessageId == null || r.content != null, {
    message: "editMessageId needs the new content"
}) satisfies z.ZodType<SendMessageRequest>;

export const raceSchema = z.strictObject({
    prompt: z.string().min(1).max(1_000_000),
    strategies: z.array(strategyNameSchema).max(10).optional(),
    maxTokens: z.number().int().min(1).max(100_000).optional()
}) satisfies z.ZodType<RaceRequest>;

export const addDocumentsSchema = z.strictObject({
    path: z.string().min(1).max(4096),
    watch: z.boolean().optional()
}) satisfies z.ZodType<AddDocumentsRequest>;

export const watchSchema = z.strictObject({ watch: z.boolean() });

export const pausedSchema = z.strictObject({ paused: z.boolean() });

export const searchSchema = z.string().max(1000).optional();

/** A page of the document list: HTTP carries numbers as query strings, IPC as numbers. */
const queryNumber = (schema: z.ZodNumber) => z.preprocess((v) => (typeof v === "string" && v !== "" ? Number(v) : v), schema.optional());
export const pageLimitSchema = queryNumber(z.number().int().min(1).max(1000));
export const pageOffsetSchema = queryNumber(z.number().int().min(0).max(Number.MAX_SAFE_INTEGER));
