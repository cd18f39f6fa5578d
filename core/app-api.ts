/**
 * The app API: what the chat window (renderer/) asks of the services, over HTTP under `presage serve`
 * and over IPC under Electron. Both adapters carry exactly these shapes; how each method travels (its
 * route, its IPC channel, its arguments' schemas) is written once in core/api-contract.ts.
 *
 * HTTP: every route below is `/api/...`, JSON in and out, and needs the header
 * `x-presage-token: <token>` (the per-run token that only the served page receives).
 * Streams are server-sent events: `GET /api/events` (app-wide events) and the response body of
 * `POST /api/conversations/:id/messages` (one answer's events), each `event: <type>\ndata: <json>`.
 * Success: 200 with JSON; 201 for a created conversation; 202 when work starts in the background
 * (a download, indexing documents); 204 when there is nothing to return.
 * Errors: 4xx/5xx with `{ "error": { "message": string, "code": string } }` (code: AppErrorCode below).
 * Settings that fix how a model is loaded (backend, gpuLayers, contextSize, threads) reload the loaded
 * model when changed; "engine" events tell the window when it is back.
 */

import type { AnswerStats as EngineAnswerStats, StepEvent as EngineStepEvent } from "../native-models/decoding/stats.ts";
import type { RpcDevice } from "../native-models/runtime/rpc-workers.ts";

export type { RpcDevice };

export type StrategyName = "none" | "draft" | "ngram" | "early-exit" | "retrieval" | "history" | "auto";
export type DraftSource = "draft" | "ngram" | "retrieval" | "history" | "early-exit" | "oracle";

export interface SamplingSettings {
    temperature: number;
    topK: number;
    topP: number;
    minP: number;
    repeatPenalty: number;
    maxTokens: number;
    seed: number | null;
}

/** Persisted user settings (PUT takes any subset). Changes apply to the next answer. */
export interface Settings {
    /**
     * Strategies turned on, always under hypothesis reduction (SLiM), which verifies only guesses the
     * measured cost pays for. `auto` (the default; the same "auto" as the CLI's and the API's) uses
     * every strategy available now but early exit, whatever the other switches say.
     */
    strategies: { auto: boolean; draft: boolean; ngram: boolean; retrieval: boolean; history: boolean; "early-exit": boolean };
    /**
     * Exact mode: every batch has at least two rows, so answers are token for token those of plain
     * decoding on the same path, on any backend; plain steps cost more. Off, plain steps are one-token
     * decodes and answers may differ from plain decoding only at near-ties where the model's batch
     * rows round differently (`EngineInfo.calibration.batchInvariant`).
     */
    exact: boolean;
    /** Max guessed tokens per step, or "auto" (the cost model decides). */
    maxDraft: number | "auto";
    sampling: SamplingSettings;
    backend: "auto" | "cpu" | "metal" | "cuda" | "vulkan";
    gpuLayers: number | "auto" | "max";
    /** Tokens of context; "auto" is the model's trained context (up to the engine's memory cap). */
    contextSize: number | "auto";
    /** 0 = automatic. */
    threads: number;
    /**
     * Remote workers (llama.cpp's rpc-server, `host:port`) the target's layers are split across, from
     * the next model load; drafts stay here. Needs the RPC build (`npm run build:rpc`); llama.cpp cannot
     * forget a worker, so one taken off the list stops being used when Presage restarts.
     */
    rpcWorkers: string[];
    /** Last loaded models, reloaded at start. */
    targetModel: string | null;
    draftModel: string | null;
    theme: "light" | "dark" | "system";
    /** Keep assistant answers as a retrieval source. */
    historyEnabled: boolean;
    /** A document source stops being indexed after this many files (its reason shows on the source). */
    indexMaxFiles: number;
    /** A document source stops being indexed once its files hold this many bytes. */
    indexMaxBytes: number;
}

export interface EngineInfo {
    modelPath: string;
    draftModelPath: string | null;
    /** What llama.cpp runs on; `note`: why `auto` ran on the CPU though it found a GPU backend (a software device, no device). */
    backend: { backend: "cpu" | "metal" | "cuda" | "vulkan"; devices: string[]; cpuMathCores: number; buildType: string; note?: string };
    /** Target layers offloaded to the GPU device, of `layers`; the device's memory after loading (GPU backends). */
    gpuLayers?: number;
    layers?: number;
    vram?: { totalBytes: number; usedBytes: number } | null;
    threads: number;
    contextSize: number;
    vocabulary: string;
    /**
     * Measured at load. `baselineTokensPerSecond` is the fastest plain decoding of this model here (one
     * token per decode at its fastest thread count) at a 32-token context; `plainByDepth` is the same
     * at several depths, the yardstick of every speedup. `stepMs[k]` is a
     * step verifying k guesses, `threads[k]` the threads it uses; `batchInvariant` says whether batch
     * rows are bit-identical to one-token rows on this model and backend.
     */
    calibration: {
        stepMs: number[];
        plainTokenMs: number;
        baselineTokensPerSecond: number;
        threads?: number[];
        batchInvariant?: boolean | null;
        /** Plain one-token decoding's ms by context depth: each answer's speedup is against these at its depths. */
        plainByDepth?: { depth: number; msPerToken: number }[];
        /** The deepest context a plain cost is predicted for. */
        plainKnownDepth?: number;
    } | null;
    /** Strategies usable with what is loaded. */
    available: DraftSource[];
    /** The target is the built-in demo model (stories260K, shipped inside the app). */
    builtin?: boolean;
    /** The context the model was trained with; a larger context is allowed but may degrade answers. */
    trainContextSize?: number;
    /**
     * Thinking models (a chat template with a reasoning part): whether a conversation can switch
     * thinking (`enable_thinking`) and whether it is on by default; null or absent for other models.
     */
    thinking?: { switchable: boolean; defaultOn: boolean } | null;
    /**
     * The chat template answers use: `name` "the model's template" (rendered as llama.cpp renders it), else
     * the fallback; `note` is one line when the model's template fails to render and a plain transcript is used.
     */
    chatTemplate?: { name: string; note: string | null };
    /** Remote workers the target is split across: each device with its memory and the layers it holds; a line per worker left out or exposed. */
    rpc?: { devices: RpcDevice[]; notes: readonly string[] };
}

/** GET /api/rpc-workers: what Settings says about the remote workers in the settings. */
export interface RpcWorkersStatus {
    /** Why the binaries here cannot use remote workers (one line, naming `npm run build:rpc`), or null when they can. */
    missing: string | null;
    /** One line per worker not on a private or loopback address (llama.cpp's rpc-server is unauthenticated). */
    warnings: string[];
}

export interface ModelFile {
    name: string;
    path: string;
    size: number;
    /** The built-in demo model shipped with the app (not in the models folder). */
    builtin?: boolean;
}

/** One file of a recommended pair, on Hugging Face. */
export interface RecommendedFile {
    /** `owner/name` of the Hugging Face repository. */
    repo: string;
    fileName: string;
    /** Size on Hugging Face (approximate: the download reports the exact one). */
    sizeBytes: number;
    /** `hf:owner/name/file.gguf` */
    uri: string;
    /** Where it is in the models folder, or null when it is not downloaded yet. */
    path: string | null;
}

/** A target and a small draft of the same family (same vocabulary), downloadable in one click. */
export interface RecommendedPair {
    id: string;
    title: string;
    note: string;
    target: RecommendedFile;
    draft: RecommendedFile;
    /** Memory (RAM or VRAM) both need together at a 4096-token context, approximately. */
    memoryBytes: number;
}

/** GET /api/models */
export interface ModelsResponse {
    /** The models folder (created on first use). */
    dir: string;
    /** Why the folder cannot be used (cannot be created, not a folder), or null when it is fine. */
    dirError: string | null;
    /** The GGUF files in the folder, then the built-in model (marked `builtin`). */
    files: ModelFile[];
    loaded: EngineInfo | null;
    /** The model being loaded now, if any. */
    loading: ModelLoading | null;
    /** Known-good target/draft pairs to download and load. */
    recommended: RecommendedPair[];
    /** Downloads of this run (also sent as events). */
    downloads: DownloadProgress[];
    pairDownloads: PairDownloadProgress[];
}

/** A model load in progress (sent as "model-loading" events; null when it ended). */
export interface ModelLoading {
    target: string;
    draft: string | null;
    builtin: boolean;
    /** ms since the epoch */
    startedAt: number;
    /** 0..1 when the engine reports it, else null (the window shows an indeterminate bar). */
    progress: number | null;
    /** One line about this load, where there is one: "preparing the GPU: first load only" when a GPU backend compiles its kernels. */
    note?: string;
}

/** POST /api/models/folder { dir } → ModelsResponse: use (and remember) another models folder, created if missing. */
export interface ModelsFolderRequest {
    dir: string;
}

/** POST /api/models/load → EngineInfo. A draft with another vocabulary: 400 with code "vocabulary-mismatch". */
export interface LoadModelRequest {
    target: string;
    draft?: string | null;
}

/** POST /api/models/check-draft → whether `draft` can draft for `target`, and why not. */
export interface DraftCheckResponse {
    compatible: boolean;
    reason: string | null;
}

/** POST /api/models/download { uri } → { id }; DELETE /api/models/download/:id cancels. Progress on /api/events. */
export interface DownloadRequest {
    /** `hf:owner/repo/file.gguf` or an https URL. */
    uri: string;
}

/**
 * One file's download. "paused" and "cancelled" both keep the partial file: downloading the same
 * URI again (or the pair again) resumes it where it stopped.
 */
export interface DownloadProgress {
    id: string;
    uri: string;
    fileName: string;
    downloadedBytes: number;
    totalBytes: number;
    state: "downloading" | "paused" | "done" | "cancelled" | "error";
    /** Over the last few seconds; 0 when nothing is arriving. */
    bytesPerSecond?: number;
    /** Seconds left at the current speed, or null when unknown. */
    etaSeconds?: number | null;
    /** One line, when state is "error". */
    error?: string;
}

/** POST /api/models/download-pair { pairId } → PairDownloadProgress; "pair-download" events follow. */
export interface PairDownloadRequest {
    pairId: string;
}

/**
 * A recommended pair's download: both files, then a check that both load (GGUF and vocabulary) and
 * that their vocabularies match; "ready" offers to load them. Pause/cancel with the download routes
 * and this id; starting the pair again resumes it.
 */
export interface PairDownloadProgress {
    /** The download id (pause/cancel take it). */
    id: string;
    pairId: string;
    state: "downloading" | "paused" | "cancelled" | "verifying" | "ready" | "error";
    target: DownloadProgress;
    draft: DownloadProgress;
    downloadedBytes: number;
    totalBytes: number;
    bytesPerSecond: number;
    etaSeconds: number | null;
    /** One line, when state is "error" (a failed download, or vocabularies that differ). */
    error?: string;
}

/**
 * Per-answer stats, kept on each assistant message: the engine's (native-models/decoding/stats.ts).
 * `exact`, `batchInvariant` and the prompt's figures are optional here: answers stored before they
 * existed lack them.
 */
type AddedLater = "exact" | "batchInvariant" | "timeToFirstTokenMs" | "promptTokens" | "promptTokensPerSecond";
export type AnswerStats = Omit<EngineAnswerStats, AddedLater> & Partial<Pick<EngineAnswerStats, AddedLater>>;

/**
 * One verification step, streamed while generating: the engine's (native-models/decoding/stats.ts),
 * its token ids plain numbers. The first `accepted` tokens were guessed by `source`, the last is the
 * target's own.
 */
export type StepEvent = Omit<EngineStepEvent, "tokens"> & { tokens: number[] };

export interface Conversation {
    id: string;
    title: string;
    systemPrompt: string;
    /** Per-conversation sampling overrides; null fields use Settings.sampling. */
    sampling: Partial<SamplingSettings>;
    /**
     * Thinking on or off, for models whose chat template takes `enable_thinking` (Qwen3, Gemma 4);
     * null follows the template's default. Other models ignore it.
     */
    thinking: boolean | null;
    createdAt: number;
    updatedAt: number;
}

export interface Message {
    id: string;
    conversationId: string;
    role: "system" | "user" | "assistant";
    content: string;
    createdAt: number;
    /**
     * Assistant messages: every answer kept for the same question (Regenerate adds one), oldest
     * first, and which of them this message is. The conversation shows and continues from one.
     */
    versions?: { ids: string[]; index: number } | null;
    /** Assistant messages: the stats of the answer and its steps (for colouring tokens by source). */
    stats: AnswerStats | null;
    steps: StepEvent[] | null;
    /** Strategies used for this answer. */
    strategies: DraftSource[] | null;
    /**
     * Assistant messages of thinking models: the reasoning before the answer (`content` is the answer
     * alone), its length in tokens and its time; null or absent when the answer had none.
     */
    reasoning?: ReasoningPart | null;
}

/** An answer's reasoning block: its text, tokens (markers included), ms from the first token, and whether it closed. */
export interface ReasoningPart {
    text: string;
    tokens: number;
    ms: number;
    ended: boolean;
}

/** GET /api/conversations?search=text → Conversation[] (newest first). POST /api/conversations → Conversation. */
export interface CreateConversationRequest {
    title?: string;
    systemPrompt?: string;
    sampling?: Partial<SamplingSettings>;
    thinking?: boolean | null;
}

/**
 * PATCH /api/conversations/:id → Conversation. DELETE /api/conversations/:id → 204.
 * `showVersion`: the id of a kept answer to show (and continue from) in place of its other versions.
 */
export type UpdateConversationRequest = Partial<Pick<Conversation, "title" | "systemPrompt" | "sampling" | "thinking">> & { showVersion?: string };

/** GET /api/conversations/:id */
export interface ConversationWithMessages {
    conversation: Conversation;
    messages: Message[];
}

/**
 * POST /api/conversations/:id/messages → SSE stream of AnswerEvent.
 * - send: `{ content }` appends a user message and answers it;
 * - edit: `{ content, editMessageId }` replaces that user message, drops everything after it, answers;
 * - regenerate: `{ regenerate: true }` answers the last question again; the earlier answers stay as
 *   versions of the new one (`Message.versions`).
 * Closing the stream (or POST /api/generations/:generationId/stop) stops the answer; what was
 * generated is kept as the message.
 */
export interface SendMessageRequest {
    content?: string;
    editMessageId?: string;
    regenerate?: boolean;
    /** Overrides Settings.strategies for this answer. */
    strategies?: StrategyName[];
}

export type AnswerEvent =
    /** `conversation`: as it stands when the answer starts (a first message gave it its title). */
    | { type: "start"; generationId: string; userMessage: Message | null; conversation?: Conversation }
    | { type: "step"; step: StepEvent }
    | { type: "done"; message: Message; stopReason: "eog" | "max-tokens" | "stop" | "abort" | "context-full" }
    | { type: "error"; message: string };

/** POST /api/race: the same prompt plainly and with the chosen strategies (greedy), one after the other. */
export interface RaceRequest {
    prompt: string;
    strategies?: StrategyName[];
    maxTokens?: number;
}

export interface RaceResponse {
    plain: { text: string; tokensPerSecond: number; seconds: number; tokens: number };
    speculative: { text: string; tokensPerSecond: number; seconds: number; tokens: number; stats: AnswerStats };
    identical: boolean;
    speedup: number;
}

export interface DocumentSource {
    id: string;
    path: string;
    kind: "folder" | "file";
    watch: boolean;
    files: number;
    indexed: number;
    /** How many files are skipped (`skipped` holds one page of them). */
    skippedCount?: number;
    /** One page of the skipped files (see DocumentsResponse.page). */
    skipped: { path: string; reason: string }[];
    /**
     * The indexed files, with the tokens each holds for the loaded model's vocabulary (0 until it is
     * tokenized). `id` removes just that file: DELETE /api/documents/:id with it.
     */
    indexedFiles?: { id: string; path: string; tokens: number }[];
    tokens: number;
    state: "idle" | "indexing" | "error";
    /** Paused: not scanned (nor watched) until resumed; what is indexed stays searchable. */
    paused?: boolean;
    /**
     * Why the last scan stopped early, e.g. at the files or bytes limit of a source (Settings
     * `indexMaxFiles` / `indexMaxBytes`), or why it failed; null when it went through.
     */
    stopReason?: string | null;
    progress: IndexProgress | null;
}

export interface IndexProgress {
    sourceId: string;
    filesDone: number;
    filesTotal: number;
    bytes: number;
    tokens: number;
    /** Bytes per second. */
    rate: number;
    etaSeconds: number | null;
    state: "scanning" | "indexing" | "done" | "error";
}

/**
 * GET /api/documents[?limit=100&offset=0]: every source with its counts, and one page of each
 * source's file lists (`indexedFiles`, `skipped`): files [offset, offset + limit) of each, limit at
 * most 1000, so the answer stays small whatever a source holds.
 */
export interface DocumentsResponse {
    sources: DocumentSource[];
    page?: { limit: number; offset: number };
    storeBytes: number;
    tokens: number;
    /** Past answers the history strategy can guess from (since the last "clear history"). */
    historyAnswers?: number;
}

/**
 * POST /api/documents { path } → DocumentSource (indexing starts in the background).
 * DELETE /api/documents/:id removes a source, or with a file's id (`indexedFiles[].id`) only that
 * file, which later scans then leave out (listed as skipped, "removed from the index by you").
 * POST /api/documents/:id/rescan; PATCH /api/documents/:id { watch }.
 */
export interface AddDocumentsRequest {
    path: string;
    watch?: boolean;
}

/** App-wide events on GET /api/events. */
export type AppEvent =
    | { type: "index-progress"; progress: IndexProgress }
    | { type: "download-progress"; progress: DownloadProgress }
    | { type: "engine"; engine: EngineInfo | null }
    | { type: "model-loading"; loading: ModelLoading | null }
    | { type: "pair-download"; pair: PairDownloadProgress }
    | { type: "models-folder"; dir: string }
    | { type: "settings"; settings: Settings };

/** DELETE /api/history clears the history retrieval source: past answers stop feeding the history drafter; conversations stay. */

/** GET /api/state: everything the window needs at start. */
export interface AppState {
    settings: Settings;
    engine: EngineInfo | null;
    /** A model being loaded (at start: the last used one, else the built-in one). */
    loading?: ModelLoading | null;
    version: string;
}

/** Why a service call failed; HTTP carries it as `error.code`, IPC as the rejected Error's `code`. */
export type AppErrorCode =
    | "invalid-request"
    | "unauthorized"
    | "forbidden"
    | "not-found"
    | "model-not-found"
    | "no-model"
    | "vocabulary-mismatch"
    | "invalid-model"
    | "strategy-unavailable"
    | "conflict"
    | "busy"
    | "payload-too-large"
    | "unsupported-media-type"
    | "request-timeout"
    | "cancelled"
    /** The engine process died under the request (a crash, out of memory); the model is being loaded again. */
    | "engine-stopped"
    | "internal";

/**
 * The app API as one typed object: one method per message above. The services implement it
 * (core/app-service.ts); the HTTP routes and the Electron IPC handlers only carry it.
 * Methods reject with an Error that has `code: AppErrorCode` and a one-sentence `message`.
 */
export interface AppApi {
    /** GET /api/state */
    getState(): Promise<AppState>;
    /** PUT /api/settings: any subset (sampling and strategies may be partial too); resolves to the full settings. */
    updateSettings(patch: Partial<Settings>): Promise<Settings>;
    /** GET /api/models */
    listModels(): Promise<ModelsResponse>;
    /** POST /api/models/load */
    loadModel(request: LoadModelRequest): Promise<EngineInfo>;
    /** POST /api/models/check-draft */
    checkDraft(request: { target: string; draft: string }): Promise<DraftCheckResponse>;
    /** POST /api/models/download */
    downloadModel(request: DownloadRequest): Promise<{ id: string }>;
    /** DELETE /api/models/download/:id (a file's or a pair's download; the partial files are kept) */
    cancelDownload(id: string): Promise<void>;
    /** POST /api/models/download/:id/pause (a file's or a pair's download; resume by starting it again) */
    pauseDownload(id: string): Promise<void>;
    /** POST /api/models/download-pair */
    downloadPair(request: PairDownloadRequest): Promise<PairDownloadProgress>;
    /** POST /api/models/folder */
    setModelsFolder(request: ModelsFolderRequest): Promise<ModelsResponse>;
    /** GET /api/conversations?search= */
    listConversations(search?: string): Promise<Conversation[]>;
    /** POST /api/conversations */
    createConversation(request: CreateConversationRequest): Promise<Conversation>;
    /** GET /api/conversations/:id */
    getConversation(id: string): Promise<ConversationWithMessages>;
    /** PATCH /api/conversations/:id */
    updateConversation(id: string, patch: UpdateConversationRequest): Promise<Conversation>;
    /** DELETE /api/conversations/:id */
    deleteConversation(id: string): Promise<void>;
    /**
     * POST /api/conversations/:id/messages: `onEvent` gets "start", the "step"s, then "done" or "error";
     * resolves after the last one. Aborting `signal` stops the answer like stopGeneration.
     */
    sendMessage(conversationId: string, request: SendMessageRequest, onEvent: (event: AnswerEvent) => void, options?: { signal?: AbortSignal }): Promise<void>;
    /** POST /api/generations/:generationId/stop */
    stopGeneration(generationId: string): Promise<void>;
    /** POST /api/race */
    race(request: RaceRequest): Promise<RaceResponse>;
    /** GET /api/documents */
    listDocuments(limit?: number, offset?: number): Promise<DocumentsResponse>;
    /** POST /api/documents */
    addDocuments(request: AddDocumentsRequest): Promise<DocumentSource>;
    /** DELETE /api/documents/:id: a source's id, or one indexed file's (`DocumentSource.indexedFiles[].id`). */
    removeDocuments(id: string): Promise<void>;
    /** POST /api/documents/:id/rescan */
    rescanDocuments(id: string): Promise<void>;
    /** PATCH /api/documents/:id { watch } */
    setDocumentsWatch(id: string, watch: boolean): Promise<void>;
    /** POST /api/documents/:id/pause { paused }: pausing cancels the source's running scan at once; resuming scans it. */
    pauseDocuments(id: string, paused: boolean): Promise<void>;
    /** DELETE /api/history */
    clearHistory(): Promise<void>;
    /** GET /api/rpc-workers: whether remote workers can be used here, and a warning per exposed worker in the settings. */
    rpcWorkersStatus(): Promise<RpcWorkersStatus>;
    /** GET /api/events; returns the unsubscribe function. */
    onAppEvent(listener: (event: AppEvent) => void): () => void;
}
