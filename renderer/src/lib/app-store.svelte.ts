import type { Api } from "./api.ts";
import type {
    AppEvent, DocumentsResponse, DownloadProgress, EngineInfo, IndexProgress, ModelLoading, ModelsResponse, PairDownloadProgress, Settings
} from "./types.ts";

export type View = "chat" | "race" | "documents" | "models" | "settings";

/** What several views share: settings, the loaded engine, documents, downloads; kept live by app events. */
export class AppStore {
    settings = $state<Settings | null>(null);
    engine = $state.raw<EngineInfo | null>(null);
    version = $state("");
    view = $state<View>("chat");
    /** The answer text coloured by drafter. */
    colourTokens = $state(false);
    documents = $state.raw<DocumentsResponse | null>(null);
    /** Latest progress per document source id. */
    indexProgress = $state.raw<Record<string, IndexProgress>>({});
    downloads = $state.raw<Record<string, DownloadProgress>>({});
    /** Latest state per recommended pair's download id. */
    pairDownloads = $state.raw<Record<string, PairDownloadProgress>>({});
    models = $state.raw<ModelsResponse | null>(null);
    /** The model being loaded (at start: the last used one, else the built-in one). */
    loading = $state.raw<ModelLoading | null>(null);
    /** The last failure for the user, one sentence. */
    error = $state<string | null>(null);
    loadError = $state<string | null>(null);
    /** Increases when the history (every conversation) was cleared. */
    historyCleared = $state(0);
    private unsubscribe: (() => void) | null = null;
    private documentsReload: ReturnType<typeof setTimeout> | null = null;

    constructor(readonly api: Api) {}

    async start(): Promise<void> {
        this.unsubscribe = this.api.onAppEvent((event) => this.onEvent(event));
        try {
            const state = await this.api.getState();
            this.settings = state.settings;
            this.engine = state.engine;
            this.loading = state.loading ?? null;
            this.version = state.version;
            this.loadError = null;
        } catch (err) {
            this.loadError = (err as Error).message;
        }
    }

    stop(): void {
        this.unsubscribe?.();
        this.unsubscribe = null;
    }

    onEvent(event: AppEvent): void {
        switch (event.type) {
            case "settings":
                this.settings = event.settings;
                break;
            case "engine":
                this.engine = event.engine;
                break;
            case "index-progress": {
                this.indexProgress = { ...this.indexProgress, [event.progress.sourceId]: event.progress };
                // Counts and sizes settle when a source finishes: fetch them again (once per burst).
                if (event.progress.state === "done" || event.progress.state === "error") this.scheduleDocumentsReload();
                break;
            }
            case "download-progress":
                this.downloads = { ...this.downloads, [event.progress.id]: event.progress };
                if (event.progress.state === "done") void this.loadModels();
                break;
            case "pair-download":
                this.pairDownloads = { ...this.pairDownloads, [event.pair.id]: event.pair };
                if (event.pair.state === "ready") void this.loadModels();
                break;
            case "model-loading":
                this.loading = event.loading;
                break;
            case "models-folder":
                void this.loadModels();
                break;
        }
    }

    /** Saves a change of settings; the next answer uses it. */
    async updateSettings(patch: Partial<Settings>): Promise<void> {
        const before = this.settings;
        if (before != null) this.settings = { ...before, ...patch };
        try {
            this.settings = await this.api.updateSettings(patch);
            this.error = null;
        } catch (err) {
            this.settings = before;
            this.error = `The settings were not saved: ${(err as Error).message}`;
        }
    }

    async loadDocuments(): Promise<void> {
        try {
            this.documents = await this.api.listDocuments();
        } catch (err) {
            this.error = (err as Error).message;
        }
    }

    private scheduleDocumentsReload(): void {
        if (this.documentsReload != null) return;
        this.documentsReload = setTimeout(() => {
            this.documentsReload = null;
            void this.loadDocuments();
        }, 150);
    }

    async loadModels(): Promise<void> {
        try {
            const models = await this.api.listModels();
            this.models = models;
            if (models.loaded != null) this.engine = models.loaded;
            this.loading = models.loading;
            // Downloads started before this window opened (or before a reload).
            const downloads = { ...this.downloads };
            for (const d of models.downloads ?? []) downloads[d.id] ??= d;
            this.downloads = downloads;
            const pairs = { ...this.pairDownloads };
            for (const p of models.pairDownloads ?? []) pairs[p.id] ??= p;
            this.pairDownloads = pairs;
        } catch (err) {
            this.error = (err as Error).message;
        }
    }
}
