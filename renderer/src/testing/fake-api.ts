import { titleFrom } from "../../../datastore/conversations.ts";
import { appMethods, appStreams, methodsOf } from "../../../core/api-contract.ts";
import { defaultSettings } from "../../../core/settings-service.ts";
import { ApiError, type Api } from "../lib/api.ts";
import type {
    AnswerEvent, AnswerStats, AppEvent, Conversation, DocumentSource, DocumentsResponse, DownloadProgress, EngineInfo, Message, ModelFile,
    AppApi, ModelsResponse, PairDownloadProgress, RaceRequest,
    RaceResponse, RpcWorkersStatus, SendMessageRequest, Settings, StepEvent
} from "../lib/types.ts";

/** Records every call. Merged with AppApi: the loop below gives it every method of the contract. */
interface RecordingApi extends AppApi {}
class RecordingApi {
    readonly calls: { method: string; args: unknown[] }[] = [];

    protected record(method: string, ...args: unknown[]): void {
        this.calls.push({ method, args });
    }

    callsOf(method: string): unknown[][] {
        return this.calls.filter((c) => c.method === method).map((c) => c.args);
    }
}

// Every method of the contract (core/api-contract.ts), so a new one needs nothing here until a
// component test uses it: until FakeApi scripts it, a call is recorded and refused, saying so.
for (const method of [...methodsOf(appMethods), ...methodsOf(appStreams)])
    Object.defineProperty(RecordingApi.prototype, method, {
        configurable: true,
        writable: true,
        async value(this: RecordingApi, ...args: unknown[]) {
            this.record(method, ...args);
            throw new ApiError(`FakeApi does not script ${method} yet: write it in renderer/src/testing/fake-api.ts.`, "internal");
        }
    });

/**
 * An in-memory app API for component tests in jsdom (the real services need Node and a model: the
 * browser tests in renderer/e2e run against them). Answers are scripted; calls are recorded.
 * core/fake-api-parity.test.ts runs the component tests' scenarios on it and on the real service.
 */
export class FakeApi extends RecordingApi implements Api {
    readonly mode = "web" as const;
    choosePaths: Api["choosePaths"] = null;
    openModelsFolder: Api["openModelsFolder"] = null;
    /** The models folder listModels reports; setModelsFolder changes it. */
    modelsDir = "/models";
    /** The folder's own files (the built-in model is added after them). */
    modelFiles: ModelFile[] = [
        { name: "target.gguf", path: "/models/target.gguf", size: 4_000_000_000 },
        { name: "draft.gguf", path: "/models/draft.gguf", size: 500_000_000 },
        { name: "other.gguf", path: "/models/other.gguf", size: 1_000_000 }
    ];
    settings: Settings = structuredClone(defaultTestSettings);
    engine: EngineInfo | null = testEngine();
    conversations: Conversation[] = [];
    messages = new Map<string, Message[]>();
    documents: DocumentsResponse = { sources: [], storeBytes: 0, tokens: 0 };
    /** The steps the next answer streams; by default a few n-gram steps. */
    answerSteps: StepEvent[] = sampleSteps();
    /** When set, each step waits for this promise factory before it is sent (to test stop). */
    stepGate: (() => Promise<void>) | null = null;
    raceResult: RaceResponse | null = null;
    /** Answers kept as other versions (Regenerate), by id, as the real store keeps them. */
    readonly hiddenAnswers = new Map<string, Message>();
    private readonly listeners = new Set<(event: AppEvent) => void>();
    private readonly stopped = new Set<string>();
    private readonly clearedAnswers = new Set<string>();
    private ids = 0;

    /** The conversation, or the real service's not-found error. */
    private conversation(id: string): Conversation {
        const conversation = this.conversations.find((c) => c.id === id);
        if (conversation == null) throw new ApiError(`There is no conversation ${id}: it may have been deleted.`, "not-found");
        return conversation;
    }

    emit(event: AppEvent): void {
        for (const l of this.listeners) l(event);
    }

    override async getState() {
        this.record("getState");
        return { settings: structuredClone(this.settings), engine: this.engine, version: "0.0.0-test" };
    }
    override async updateSettings(patch: Partial<Settings>) {
        this.record("updateSettings", patch);
        this.settings = { ...this.settings, ...patch, strategies: { ...this.settings.strategies, ...patch.strategies }, sampling: { ...this.settings.sampling, ...patch.sampling } };
        return structuredClone(this.settings);
    }
    override async listModels(): Promise<ModelsResponse> {
        this.record("listModels");
        const file = (repo: string, fileName: string, sizeBytes: number) => ({
            repo, fileName, sizeBytes, uri: `hf:${repo}/${fileName}`, path: this.modelFiles.find((f) => f.name === fileName)?.path ?? null
        });
        return {
            dir: this.modelsDir,
            dirError: null,
            files: [...this.modelFiles, { name: "stories260K.gguf", path: "/app/models/stories260K.gguf", size: 1_185_376, builtin: true }],
            loaded: this.engine,
            loading: null,
            recommended: [{
                id: "pair-1", title: "Target, drafted by Draft", note: "same tokenizer",
                target: file("org/target-GGUF", "target.gguf", 4_000_000_000), draft: file("org/draft-GGUF", "draft.gguf", 500_000_000), memoryBytes: 6_000_000_000
            }],
            downloads: [],
            pairDownloads: []
        };
    }
    override async pauseDownload(id: string) {
        this.record("pauseDownload", id);
    }
    override async downloadPair(req: { pairId: string }): Promise<PairDownloadProgress> {
        this.record("downloadPair", req);
        const file = (fileName: string): DownloadProgress => ({ id: `f-${fileName}`, uri: `hf:org/x/${fileName}`, fileName, downloadedBytes: 0, totalBytes: 0, state: "downloading" });
        return { id: `p-${req.pairId}`, pairId: req.pairId, state: "downloading", target: file("target.gguf"), draft: file("draft.gguf"), downloadedBytes: 0, totalBytes: 4_500_000_000, bytesPerSecond: 0, etaSeconds: null };
    }
    override async setModelsFolder(req: { dir: string }) {
        this.record("setModelsFolder", req);
        this.modelsDir = req.dir;
        this.modelFiles = [];
        return this.listModels();
    }
    override async loadModel(req: { target: string; draft?: string | null }) {
        this.record("loadModel", req);
        this.engine = { ...testEngine(), modelPath: req.target, draftModelPath: req.draft ?? null };
        return this.engine;
    }
    override async checkDraft(req: { target: string; draft: string }) {
        this.record("checkDraft", req);
        return req.draft.includes("other")
            ? { compatible: false, reason: "their vocabularies differ (32000 vs 151936 tokens)" }
            : { compatible: true, reason: null };
    }
    override async downloadModel(req: { uri: string }) {
        this.record("downloadModel", req);
        return { id: `d${++this.ids}` };
    }
    override async cancelDownload(id: string) {
        this.record("cancelDownload", id);
    }
    override async listConversations(search?: string) {
        this.record("listConversations", search);
        const q = search?.toLowerCase();
        return this.conversations.filter((c) => q == null || c.title.toLowerCase().includes(q));
    }
    override async createConversation(req: { title?: string; systemPrompt?: string; sampling?: Conversation["sampling"]; thinking?: boolean | null }) {
        this.record("createConversation", req);
        const c: Conversation = { id: `c${++this.ids}`, title: req.title ?? "", systemPrompt: req.systemPrompt ?? "", sampling: req.sampling ?? {}, thinking: req.thinking ?? null, createdAt: Date.now(), updatedAt: Date.now() };
        this.conversations = [c, ...this.conversations];
        this.messages.set(c.id, []);
        return c;
    }
    override async getConversation(id: string) {
        this.record("getConversation", id);
        return { conversation: this.conversation(id), messages: [...(this.messages.get(id) ?? [])] };
    }
    override async updateConversation(id: string, patch: Partial<Conversation> & { showVersion?: string }) {
        this.record("updateConversation", id, patch);
        const { showVersion, ...fields } = patch;
        const i = this.conversations.findIndex((c) => c.id === id);
        if (i < 0) throw new ApiError(`There is no conversation ${id}: it may have been deleted.`, "not-found");
        if (showVersion != null) {
            const list = this.messages.get(id) ?? [];
            const at = list.findIndex((m) => m.versions?.ids.includes(showVersion));
            const shown = list[at];
            const next = this.hiddenAnswers.get(showVersion);
            if (shown == null || next == null) throw new ApiError(`There is no answer ${showVersion} in this conversation.`, "not-found");
            this.hiddenAnswers.delete(showVersion);
            this.hiddenAnswers.set(shown.id, shown);
            list[at] = { ...next, versions: { ids: shown.versions!.ids, index: shown.versions!.ids.indexOf(showVersion) } };
        }
        this.conversations[i] = { ...this.conversations[i]!, ...fields, updatedAt: Date.now() };
        return this.conversations[i]!;
    }
    override async deleteConversation(id: string) {
        this.record("deleteConversation", id);
        this.conversation(id);
        this.conversations = this.conversations.filter((c) => c.id !== id);
    }
    override async sendMessage(conversationId: string, req: SendMessageRequest, onEvent: (event: AnswerEvent) => void) {
        this.record("sendMessage", conversationId, req);
        // Refused before the answer starts, as the real service does.
        this.conversation(conversationId);
        if (this.engine == null) throw new ApiError("No model is loaded: load one in the models panel first.", "no-model");
        const list = this.messages.get(conversationId) ?? [];
        let userMessage: Message | null = null;
        let earlier: Message | null = null;
        if (req.editMessageId != null) {
            const i = list.findIndex((m) => m.id === req.editMessageId);
            list.splice(i);
        } else if (req.regenerate) {
            if (list.at(-1)?.role === "assistant") earlier = list.pop()!;
        }
        if (req.content != null) {
            userMessage = message(`m${++this.ids}`, conversationId, "user", req.content);
            list.push(userMessage);
            const c = this.conversations.find((c) => c.id === conversationId);
            if (c != null && c.title === "") c.title = titleFrom(req.content);
        }
        this.messages.set(conversationId, list);
        const generationId = `g${++this.ids}`;
        const conversation = this.conversations.find((c) => c.id === conversationId);
        onEvent({ type: "start", generationId, userMessage, ...(conversation != null ? { conversation: { ...conversation } } : {}) });
        const sent: StepEvent[] = [];
        for (const step of this.answerSteps) {
            if (this.stepGate != null) await this.stepGate();
            else await Promise.resolve();
            if (this.stopped.has(generationId)) break;
            sent.push(step);
            onEvent({ type: "step", step });
        }
        const text = sent.map((s) => s.text).join("");
        // A thinking model's steps carry their reasoning apart, as the engine's do; the answer is the rest.
        const thought = sent.filter((s) => s.reasoning != null);
        const reasoning = thought.length === 0 ? null : { text: thought.map((s) => s.reasoning).join("").trim(), tokens: thought.reduce((n, s) => n + s.tokens.length, 0), ms: thought.reduce((n, s) => n + s.ms, 0), ended: true };
        const id = `m${++this.ids}`;
        const ids = earlier == null ? [id] : [...(earlier.versions?.ids ?? [earlier.id]), id];
        if (earlier != null) this.hiddenAnswers.set(earlier.id, earlier);
        const answer: Message = {
            ...message(id, conversationId, "assistant", text),
            stats: statsOf(sent),
            steps: sent,
            strategies: ["ngram"],
            versions: ids.length > 1 ? { ids, index: ids.length - 1 } : null,
            ...(reasoning != null ? { reasoning } : {})
        };
        list.push(answer);
        onEvent({ type: "done", message: answer, stopReason: this.stopped.has(generationId) ? "abort" : "eog" });
    }
    override async stopGeneration(generationId: string) {
        this.record("stopGeneration", generationId);
        this.stopped.add(generationId);
    }
    override async race(req: RaceRequest) {
        this.record("race", req);
        return this.raceResult ?? {
            plain: { text: "same text", tokensPerSecond: 100, seconds: 1, tokens: 100 },
            speculative: { text: "same text", tokensPerSecond: 180, seconds: 0.56, tokens: 100, stats: statsOf(sampleSteps()) },
            identical: true,
            speedup: 1.8
        };
    }
    override async listDocuments() {
        this.record("listDocuments");
        const answers = [...[...this.messages.values()].flat().filter((m) => m.role === "assistant"), ...this.hiddenAnswers.values()];
        const historyAnswers = answers.filter((m) => !this.clearedAnswers.has(m.id)).length;
        return { historyAnswers, ...structuredClone(this.documents) };
    }
    override async addDocuments(req: { path: string; watch?: boolean }) {
        this.record("addDocuments", req);
        const source: DocumentSource = {
            id: `s${++this.ids}`, path: req.path, kind: "folder", watch: req.watch ?? false, files: 0, indexed: 0,
            skipped: [], tokens: 0, state: "indexing", progress: null
        };
        this.documents = { ...this.documents, sources: [...this.documents.sources, source] };
        return source;
    }
    override async removeDocuments(id: string) {
        this.record("removeDocuments", id);
        const owner = this.documents.sources.find((s) => s.indexedFiles?.some((f) => f.id === id));
        if (owner != null) {
            // One file: it leaves the index and is listed as skipped, as the real service does.
            const file = owner.indexedFiles!.find((f) => f.id === id)!;
            const updated: DocumentSource = {
                ...owner,
                indexed: owner.indexed - 1,
                tokens: owner.tokens - file.tokens,
                indexedFiles: owner.indexedFiles!.filter((f) => f.id !== id),
                skipped: [...owner.skipped, { path: file.path, reason: "removed from the index by you" }]
            };
            this.documents = { ...this.documents, tokens: this.documents.tokens - file.tokens, sources: this.documents.sources.map((s) => (s.id === owner.id ? updated : s)) };
            return;
        }
        if (!this.documents.sources.some((s) => s.id === id)) throw new ApiError(`There is no document source ${id}: it may have been removed.`, "not-found");
        this.documents = { ...this.documents, sources: this.documents.sources.filter((s) => s.id !== id) };
    }
    override async rescanDocuments(id: string) {
        this.record("rescanDocuments", id);
    }
    override async setDocumentsWatch(id: string, watch: boolean) {
        this.record("setDocumentsWatch", id, watch);
        this.documents = { ...this.documents, sources: this.documents.sources.map((s) => (s.id === id ? { ...s, watch } : s)) };
    }
    /** What rpcWorkersStatus answers (the real one checks the build and looks up each worker's address). */
    rpcStatus: RpcWorkersStatus = { missing: null, warnings: [] };
    override async rpcWorkersStatus() {
        this.record("rpcWorkersStatus");
        return structuredClone(this.rpcStatus);
    }
    override async clearHistory() {
        this.record("clearHistory");
        // Past answers stop counting as history; the conversations keep them.
        for (const m of [...this.messages.values()].flat()) if (m.role === "assistant") this.clearedAnswers.add(m.id);
        for (const id of this.hiddenAnswers.keys()) this.clearedAnswers.add(id);
    }
    override onAppEvent(listener: (event: AppEvent) => void) {
        this.listeners.add(listener);
        return () => this.listeners.delete(listener);
    }
}

/** The service's defaults, with a fixed theme so screenshots and tests do not follow the system's. */
export const defaultTestSettings: Settings = { ...defaultSettings, theme: "light" };

export function testEngine(): EngineInfo {
    return {
        modelPath: "/models/target.gguf",
        draftModelPath: null,
        backend: { backend: "cpu", devices: [], cpuMathCores: 2, buildType: "prebuilt" },
        threads: 2,
        contextSize: 2048,
        trainContextSize: 2048,
        vocabulary: "abc",
        calibration: { stepMs: [2, 2.2, 2.5], plainTokenMs: 10, baselineTokensPerSecond: 500 },
        available: ["ngram", "history", "early-exit"]
    };
}

export function message(id: string, conversationId: string, role: Message["role"], content: string): Message {
    return { id, conversationId, role, content, createdAt: Date.now(), stats: null, steps: null, strategies: null };
}

/** Steps: "Once" (own), " upon a" (ngram guessed " upon", own " a"), " time" (own). */
export function sampleSteps(): StepEvent[] {
    return [
        { step: 1, drafted: 0, accepted: 0, source: null, tokens: [10], text: "Once", ms: 10 },
        { step: 2, drafted: 3, accepted: 1, source: "ngram", tokens: [11, 12], text: " upon a", ms: 12, pieces: [" upon", " a"] },
        { step: 3, drafted: 2, accepted: 2, source: "draft", tokens: [13, 14, 15], text: " time, there", ms: 12 }
    ];
}

export function statsOf(steps: StepEvent[]): AnswerStats {
    const tokens = steps.reduce((n, s) => n + s.tokens.length, 0);
    const drafted = steps.reduce((n, s) => n + s.drafted, 0);
    const accepted = steps.reduce((n, s) => n + s.accepted, 0);
    const bySource: AnswerStats["bySource"] = {};
    for (const s of steps) {
        if (s.source == null) continue;
        const b = bySource[s.source] ?? { steps: 0, drafted: 0, accepted: 0, acceptanceRate: 0 };
        b.steps++;
        b.drafted += s.drafted;
        b.accepted += s.accepted;
        b.acceptanceRate = b.drafted > 0 ? b.accepted / b.drafted : 0;
        bySource[s.source] = b;
    }
    return {
        tokens, seconds: 0.05, tokensPerSecond: tokens / 0.05, timeToFirstTokenMs: 4, promptTokens: 12, promptTokensPerSecond: 3000, steps: steps.length, drafted, accepted,
        meanAcceptedLength: steps.length > 0 ? tokens / steps.length : 0, acceptanceRate: drafted > 0 ? accepted / drafted : 0,
        bySource, baselineTokensPerSecond: 100, speedupEstimate: tokens / 0.05 / 100, estimate: true as const
    };
}
