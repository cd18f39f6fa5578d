/**
 * The app API: what the chat window (renderer/) asks of the services, over HTTP under `presage serve`
 * and over IPC under Electron. Both adapters carry exactly these shapes; this file is the contract.
 *
 * HTTP: every route below is `/api/...`, JSON in and out, and needs the header
 * `x-presage-token: <token>` (the per-run token that only the served page receives).
 * Streams are server-sent events: `GET /api/events` (app-wide events) and the response body of
 * `POST /api/conversations/:id/messages` (one answer's events), each `event: <type>\ndata: <json>`.
 * Errors: 4xx/5xx with `{ "error": { "message": string, "code": string } }`.
 */

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
    /** Strategies turned on; `reduction` is hypothesis reduction (SLiM) over them. */
    strategies: { draft: boolean; ngram: boolean; retrieval: boolean; history: boolean; "early-exit": boolean; reduction: boolean };
    /** Max guessed tokens per step, or "auto" (the cost model decides). */
    maxDraft: number | "auto";
    sampling: SamplingSettings;
    backend: "auto" | "cpu" | "metal" | "cuda" | "vulkan";
    gpuLayers: number | "auto" | "max";
    contextSize: number;
    /** 0 = automatic. */
    threads: number;
    /** Last loaded models, reloaded at start. */
    targetModel: string | null;
    draftModel: string | null;
    theme: "light" | "dark" | "system";
    /** Keep assistant answers as a retrieval source. */
    historyEnabled: boolean;
}

export interface EngineInfo {
    modelPath: string;
    draftModelPath: string | null;
    backend: { backend: "cpu" | "metal" | "cuda" | "vulkan"; devices: string[]; cpuMathCores: number; buildType: string };
    threads: number;
    contextSize: number;
    vocabulary: string;
    calibration: { stepMs: number[]; plainTokenMs: number } | null;
    /** Strategies usable with what is loaded. */
    available: DraftSource[];
}

export interface ModelFile {
    name: string;
    path: string;
    size: number;
}

/** GET /api/models */
export interface ModelsResponse {
    dir: string;
    files: ModelFile[];
    loaded: EngineInfo | null;
    /** Known-good target/draft pairs to suggest. */
    recommended: { target: string; draft: string; note: string }[];
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

export interface DownloadProgress {
    id: string;
    uri: string;
    fileName: string;
    downloadedBytes: number;
    totalBytes: number;
    state: "downloading" | "done" | "cancelled" | "error";
    error?: string;
}

/** Per-answer stats, kept on each assistant message. */
export interface AnswerStats {
    tokens: number;
    seconds: number;
    tokensPerSecond: number;
    steps: number;
    drafted: number;
    accepted: number;
    meanAcceptedLength: number;
    acceptanceRate: number;
    bySource: Partial<Record<DraftSource, { steps: number; drafted: number; accepted: number; acceptanceRate: number }>>;
    baselineTokensPerSecond: number | null;
    speedupEstimate: number | null;
    estimate: true;
}

/** One verification step, streamed while generating. */
export interface StepEvent {
    step: number;
    drafted: number;
    accepted: number;
    source: DraftSource | null;
    /** Token ids this step added: the first `accepted` were guessed by `source`, the last is the target's own. */
    tokens: number[];
    /** The text this step added (may be "" while a character or a stop string is incomplete). */
    text: string;
    ms: number;
}

export interface Conversation {
    id: string;
    title: string;
    systemPrompt: string;
    /** Per-conversation sampling overrides; null fields use Settings.sampling. */
    sampling: Partial<SamplingSettings>;
    createdAt: number;
    updatedAt: number;
}

export interface Message {
    id: string;
    conversationId: string;
    role: "system" | "user" | "assistant";
    content: string;
    createdAt: number;
    /** Assistant messages: the stats of the answer and its steps (for colouring tokens by source). */
    stats: AnswerStats | null;
    steps: StepEvent[] | null;
    /** Strategies used for this answer. */
    strategies: DraftSource[] | null;
}

/** GET /api/conversations?search=text → Conversation[] (newest first). POST /api/conversations → Conversation. */
export interface CreateConversationRequest {
    title?: string;
    systemPrompt?: string;
    sampling?: Partial<SamplingSettings>;
}

/** PATCH /api/conversations/:id → Conversation. DELETE /api/conversations/:id → 204. */
export type UpdateConversationRequest = Partial<Pick<Conversation, "title" | "systemPrompt" | "sampling">>;

/** GET /api/conversations/:id */
export interface ConversationWithMessages {
    conversation: Conversation;
    messages: Message[];
}

/**
 * POST /api/conversations/:id/messages → SSE stream of AnswerEvent.
 * - send: `{ content }` appends a user message and answers it;
 * - edit: `{ content, editMessageId }` replaces that user message, drops everything after it, answers;
 * - regenerate: `{ regenerate: true }` drops the last assistant message and answers again.
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
    | { type: "start"; generationId: string; userMessage: Message | null }
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
    skipped: { path: string; reason: string }[];
    tokens: number;
    state: "idle" | "indexing" | "error";
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

/** GET /api/documents */
export interface DocumentsResponse {
    sources: DocumentSource[];
    storeBytes: number;
    tokens: number;
}

/** POST /api/documents { path } → DocumentSource (indexing starts in the background). DELETE /api/documents/:id; POST /api/documents/:id/rescan; PATCH /api/documents/:id { watch }. */
export interface AddDocumentsRequest {
    path: string;
    watch?: boolean;
}

/** App-wide events on GET /api/events. */
export type AppEvent =
    | { type: "index-progress"; progress: IndexProgress }
    | { type: "download-progress"; progress: DownloadProgress }
    | { type: "engine"; engine: EngineInfo | null }
    | { type: "settings"; settings: Settings };

/** DELETE /api/history clears the history retrieval source (past answers). */

/** GET /api/state: everything the window needs at start. */
export interface AppState {
    settings: Settings;
    engine: EngineInfo | null;
    version: string;
}
