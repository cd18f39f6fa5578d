import { PresageEngine } from "../../native-models/engine/presage-engine.ts";
import { getRuntime } from "../../native-models/runtime/llama-runtime.ts";
import { loadModelFile, ModelFileError } from "../../native-models/runtime/model-loader.ts";
import { vocabularyMismatch } from "../../native-models/runtime/vocabulary.ts";
import type { DraftCheckResponse, EngineInfo, ModelsResponse } from "../app-api.ts";
import { DownloadManager } from "./download-manager.ts";
import type { EventBus } from "./event-bus.ts";
import { GenerationQueue, type QueueRunOptions } from "./generation-queue.ts";
import { listModelFiles, recommendedPairs, resolveModelPath } from "./models-folder.ts";
import { checkDraftSchema, loadModelSchema } from "./schemas.ts";
import { firstLine, ServiceError } from "./service-error.ts";
import type { SettingsService } from "./settings-service.ts";
import { validate } from "./validation.ts";

export interface ModelServiceOptions {
    /** The models folder: listed, downloaded into, and where bare file names are looked up. */
    modelsDir: string;
    settings: SettingsService;
    events: EventBus;
    /** Requests that may wait for the engine while one runs (default 16); more get "busy". */
    maxWaiting?: number;
    /** Measure verification cost at load, for `speedupEstimate` (default true). */
    calibrate?: boolean;
    /** llama.cpp threads, overriding the settings (tests pin 1). */
    threads?: number;
    /** Where the engine caches derived drafts (early exit). */
    cacheDir?: string;
}

/** Called after the engine changed (a model loaded, or none); the engine is idle at that moment. */
export type EngineListener = (engine: PresageEngine | null) => void | Promise<void>;

/**
 * The models folder, the loaded engine (target + optional draft) and the queue in front of it.
 * Everything that uses the engine runs through `use`, one at a time; loading a model waits its turn,
 * so it never pulls the engine from under an answer.
 */
export class ModelService {
    readonly downloads: DownloadManager;
    readonly queue: GenerationQueue;
    private current: PresageEngine | null = null;
    private readonly listeners = new Set<EngineListener>();

    constructor(private readonly options: ModelServiceOptions) {
        this.queue = new GenerationQueue({ maxWaiting: options.maxWaiting });
        this.downloads = new DownloadManager({ dir: options.modelsDir, events: options.events });
        options.settings.onChange((next, previous) => {
            // Backend, GPU layers, context and threads are fixed at load: apply them by reloading.
            const info = this.current?.info;
            if (info == null || loadKeys.every((k) => next[k] === previous[k])) return;
            this.load({ target: info.modelPath, draft: info.draftModelPath }).catch((err) => {
                console.error(`presage: reloading with the new settings failed: ${firstLine(err)}`);
                this.options.events.publish({ type: "engine", engine: this.info() });
            });
        });
    }

    get modelsDir(): string {
        return this.options.modelsDir;
    }

    /** The loaded engine, or null. Use it through `use` unless only reading `info`. */
    get engine(): PresageEngine | null {
        return this.current;
    }

    /** What is loaded, in the contract's shape; null when nothing is. */
    info(): EngineInfo | null {
        const engine = this.current;
        if (engine == null) return null;
        return { ...engine.info, available: engine.available(), trainContextSize: engine.model.trainContextSize };
    }

    async listModels(): Promise<ModelsResponse> {
        return { dir: this.options.modelsDir, files: await listModelFiles(this.options.modelsDir), loaded: this.info(), recommended: recommendedPairs };
    }

    /** Registers a listener for engine changes; returns the unregister function. */
    onEngineChange(listener: EngineListener): () => void {
        this.listeners.add(listener);
        return () => void this.listeners.delete(listener);
    }

    /**
     * Runs `task` with the engine when it is its turn.
     * @throws ServiceError "no-model" when nothing is loaded, "busy" when the line is full,
     * "cancelled" when `signal` aborts while waiting.
     */
    use<T>(task: (engine: PresageEngine) => Promise<T>, options: QueueRunOptions = {}): Promise<T> {
        if (this.current == null && !this.queue.running) return Promise.reject(noModel());
        return this.queue.run(() => {
            const engine = this.current;
            if (engine == null) throw noModel();
            return task(engine);
        }, options);
    }

    /** Whether `draft` can draft for `target` (same vocabulary), from their vocabularies alone. */
    async checkDraft(request: unknown): Promise<DraftCheckResponse> {
        const { target, draft } = validate(checkDraftSchema, request, "draft check");
        const targetPath = await resolveModelPath(this.options.modelsDir, target);
        const draftPath = await resolveModelPath(this.options.modelsDir, draft);
        const reason = await this.vocabularyReason(targetPath, draftPath);
        return { compatible: reason == null, reason };
    }

    /**
     * Loads a target and optional draft with the current backend settings, replacing what was loaded.
     * A draft with another vocabulary is refused before anything is unloaded.
     * @throws ServiceError "model-not-found", "vocabulary-mismatch" (400), "invalid-model".
     */
    async load(request: unknown): Promise<EngineInfo> {
        const req = validate(loadModelSchema, request, "model load request");
        const targetPath = await resolveModelPath(this.options.modelsDir, req.target);
        const draftPath = req.draft == null ? null : await resolveModelPath(this.options.modelsDir, req.draft);
        if (draftPath != null) {
            const reason = await this.vocabularyReason(targetPath, draftPath);
            if (reason != null) throw new ServiceError("vocabulary-mismatch", `The draft model cannot draft for this target because their vocabularies differ: ${reason}. Choose a draft from the same model family.`);
        }
        return this.queue.run(async () => {
            // Free the old model first: two large models rarely fit in memory at once.
            await this.replaceEngine(null);
            const s = this.options.settings.get();
            let engine: PresageEngine;
            try {
                engine = await PresageEngine.load({
                    modelPath: targetPath,
                    draftModelPath: draftPath ?? undefined,
                    backend: s.backend,
                    gpuLayers: s.gpuLayers,
                    // "auto": the engine's default, the model's trained context (capped to bound memory).
                    contextSize: s.contextSize === "auto" ? undefined : s.contextSize,
                    threads: this.options.threads ?? (s.threads > 0 ? s.threads : undefined),
                    calibrate: this.options.calibrate ?? true,
                    cacheDir: this.options.cacheDir
                });
            } catch (err) {
                throw loadError(err, draftPath);
            }
            await this.replaceEngine(engine);
            this.options.settings.update({ targetModel: targetPath, draftModel: draftPath });
            return this.info()!;
        }, { unbounded: true });
    }

    /** Unloads the engine (waits for the running answer). */
    unload(): Promise<void> {
        return this.queue.run(() => this.replaceEngine(null), { unbounded: true });
    }

    /** Cancels downloads and frees the engine. */
    async close(): Promise<void> {
        await this.downloads.close();
        await this.unload();
    }

    private async replaceEngine(engine: PresageEngine | null): Promise<void> {
        const old = this.current;
        if (old == null && engine == null) return;
        this.current = engine;
        if (old != null) await old.dispose();
        for (const listener of [...this.listeners]) {
            try {
                await listener(engine);
            } catch (err) {
                // A helper (documents, drafters) failing must not unload the model.
                console.error(`presage: after the model changed: ${firstLine(err)}`);
            }
        }
        this.options.events.publish({ type: "engine", engine: this.info() });
    }

    private async vocabularyReason(targetPath: string, draftPath: string): Promise<string | null> {
        if (targetPath === draftPath) return null;
        let llama;
        try {
            llama = await getRuntime({ backend: this.options.settings.get().backend });
        } catch (err) {
            throw new ServiceError("invalid-request", firstLine(err));
        }
        const load = (path: string) => loadModelFile(llama, path, { vocabOnly: true }).catch((err) => {
            throw loadError(err, null);
        });
        const target = await load(targetPath);
        try {
            const draft = await load(draftPath);
            try {
                return vocabularyMismatch(target, draft);
            } finally {
                await draft.dispose();
            }
        } finally {
            await target.dispose();
        }
    }
}

const loadKeys = ["backend", "gpuLayers", "contextSize", "threads"] as const;

function noModel(): ServiceError {
    return new ServiceError("no-model", "No model is loaded: load one in the models panel (or start the server with --model FILE).");
}

function loadError(err: unknown, draftPath: string | null): ServiceError {
    if (err instanceof ServiceError) return err;
    const message = firstLine(err);
    if (err instanceof ModelFileError) {
        if (err.path === draftPath && /vocabular/i.test(message)) return new ServiceError("vocabulary-mismatch", message);
        return new ServiceError("invalid-model", message);
    }
    return new ServiceError("invalid-model", `The model could not be loaded: ${message}`);
}
