import { existsSync, statSync } from "node:fs";
import { mkdir, stat } from "node:fs/promises";
import { basename, dirname, isAbsolute, resolve } from "node:path";
import { validateGgufFile } from "../native-models/gguf/gguf-reader.ts";
import { builtinModelPath } from "../native-models/models-dir.ts";
import { EngineError } from "../native-models/engine-error.ts";
import { getRuntime } from "../native-models/runtime/llama-runtime.ts";
import { getLlamaGpuTypes } from "node-llama-cpp";
import { loadModelFile } from "../native-models/runtime/model-loader.ts";
import { vocabularyMismatch } from "../native-models/runtime/vocabulary.ts";
import type { DraftCheckResponse, EngineInfo, Settings, ModelFile, ModelLoading, ModelsResponse, PairDownloadProgress } from "./app-api.ts";
import { DownloadManager } from "./download-manager.ts";
import { EngineProcess, EngineStoppedError } from "./engine-process/engine-process.ts";
import type { EngineLoadOptions } from "./engine-process/protocol.ts";
import type { RemoteEngine } from "./engine-process/remote-engine.ts";
import type { EventBus } from "./event-bus.ts";
import { GenerationQueue, type QueueRunOptions } from "./generation-queue.ts";
import { listModelFiles, recommendedPairs, resolveModelPath } from "./models-folder.ts";
import { checkDraftSchema, loadModelSchema, modelsFolderSchema, pairDownloadSchema } from "./schemas.ts";
import { rpcWorkersForLoad } from "./rpc-status.ts";
import { asServiceError, firstLine, ServiceError } from "./service-error.ts";
import type { SettingsService, SettingsStore } from "./settings-service.ts";
import { validate } from "./validation.ts";

/** The settings-store key of the models folder the user chose in the window. */
export const modelsDirKey = "models.dir";

/** A model `GET /v1/models` lists: every GGUF file in the models folder, and the built-in one. */
export interface AvailableModel {
    /** The file name without ".gguf". */
    id: string;
    path: string;
    builtin: boolean;
}

export interface ModelServiceOptions {
    /** The models folder: listed, downloaded into, and where bare file names are looked up. */
    modelsDir: string;
    settings: SettingsService;
    events: EventBus;
    /** Where the models folder the user chooses is remembered (the datastore's settings). */
    store?: SettingsStore;
    /** The built-in demo model (default: models/stories260K.gguf in the package); null for none. */
    builtinModel?: string | null;
    /** Where `hf:` downloads come from (default HF_ENDPOINT, else https://huggingface.co). */
    huggingFaceEndpoint?: string;
    /** Give up a download when no byte arrives for this long (default: the CLI's). */
    downloadStallTimeoutMs?: number;
    /** Requests that may wait for the engine while one runs (default 16); more get "busy". */
    maxWaiting?: number;
    /** Measure verification cost at load, for `speedupEstimate` (default true). */
    calibrate?: boolean;
    /** llama.cpp threads, overriding the settings (tests pin 1). */
    threads?: number;
    /** Remote workers (llama.cpp RPC, `host:port`) the target is split across, for every load (`presage serve --rpc`). */
    rpcWorkers?: readonly string[];
    /** Where the engine caches derived drafts (early exit). */
    cacheDir?: string;
    /** The process the engine runs in (default: a Node child process, started at the first load). */
    engineProcess?: EngineProcess;
    /** The datastore the engine process opens for the retrieval and history drafters (default none). */
    datastorePath?: string | null;
}

/** Called after the engine changed (a model loaded, or none); the engine is idle at that moment. */
export type EngineListener = (engine: RemoteEngine | null) => void | Promise<void>;

/**
 * The models folder, the loaded engine (target + optional draft) and the queue in front of it.
 * Everything that uses the engine runs through `use`, one at a time; loading a model waits its turn,
 * so it never pulls the engine from under an answer.
 *
 * The engine runs in its own process (`EngineProcess`). When that process dies, the answer in it ends
 * with "The model stopped unexpectedly; reloading.", the same models are loaded again at once (in the
 * queue's order: a request already waiting reloads them in its own turn), and a load that dies is
 * tried once more before it fails.
 */
export class ModelService {
    readonly downloads: DownloadManager;
    readonly queue: GenerationQueue;
    private current: RemoteEngine | null = null;
    /** What to load again after the engine process died under the loaded models (until it is). */
    private revive: { target: string; draft: string | null } | null = null;
    readonly engineProcess: EngineProcess;
    private readonly listeners = new Set<EngineListener>();
    private dir: string;
    private loadingNow: ModelLoading | null = null;
    /** Loads asked for and not finished (some still before the queue): requests wait for them. */
    private readonly pending = new Set<Promise<unknown>>();
    private readonly builtin: string | null;

    constructor(private readonly options: ModelServiceOptions) {
        this.dir = resolve(options.modelsDir);
        this.builtin = options.builtinModel === undefined ? (existsSync(builtinModelPath) ? builtinModelPath : null) : options.builtinModel;
        this.queue = new GenerationQueue({ maxWaiting: options.maxWaiting });
        this.engineProcess = options.engineProcess ?? new EngineProcess();
        this.engineProcess.onExit(() => this.engineStopped());
        this.downloads = new DownloadManager({
            dir: this.dir,
            events: options.events,
            endpoint: options.huggingFaceEndpoint,
            stallTimeoutMs: options.downloadStallTimeoutMs,
            verifyPair: async (target, draft) => {
                const why = await this.vocabularyReason(target, draft);
                return why == null ? null : `The draft cannot draft for this target: ${why}.`;
            }
        });
    }

    get modelsDir(): string {
        return this.dir;
    }

    /** The built-in demo model's path, or null when the package has none. */
    get builtinModel(): string | null {
        return this.builtin;
    }

    /** The load in progress, if any. */
    loading(): ModelLoading | null {
        return this.loadingNow;
    }

    /** The loaded engine, or null. Use it through `use` unless only reading `info`. */
    get engine(): RemoteEngine | null {
        return this.current;
    }

    /** Whether a request can be answered now: a model is loaded, or is being loaded again after a crash. */
    get ready(): boolean {
        return this.current != null || this.revive != null;
    }

    /** What is loaded, in the contract's shape; null when nothing is. */
    info(): EngineInfo | null {
        const engine = this.current;
        if (engine == null) return null;
        return { ...engine.info, builtin: engine.info.modelPath === this.builtin };
    }

    /**
     * Applies a settings patch. One that changes how the model loads (backend, GPU layers, context,
     * threads) is tried first: the model is reloaded with it, and only when that works is the patch
     * kept; otherwise the working model and the settings stay as they were.
     * @throws ServiceError "invalid-request" naming the backend and what is available, or why the load failed.
     */
    async updateSettings(patch: unknown): Promise<Settings> {
        const settings = this.options.settings;
        const next = settings.preview(patch);
        const previous = settings.get();
        if (loadKeys.every((k) => next[k] === previous[k])) return settings.update(patch);
        if (next.backend !== previous.backend) await this.requireBackend(next.backend);
        if (this.current == null && this.pending.size === 0) return settings.update(patch);
        return this.queue.run(() => this.shownAsLoading(async () => {
            const loaded = this.current?.info;
            if (loaded == null) return settings.update(patch);
            const refusal = (err: unknown) => new ServiceError("invalid-request", `The model could not be loaded with these settings (${firstLine(err).replace(/\.$/, "")}): they are unchanged.`);
            let engine: RemoteEngine;
            try {
                engine = await this.createEngine(loaded.modelPath, loaded.draftModelPath, next);
            } catch (err) {
                if (err instanceof ServiceError || err instanceof EngineError) throw refusal(err);
                // Perhaps both do not fit in memory at once: free the working model, try again, and
                // bring it back with the settings as they were if the new ones still fail.
                await this.replaceEngine(null);
                try {
                    engine = await this.createEngine(loaded.modelPath, loaded.draftModelPath, next);
                } catch (again) {
                    try {
                        await this.replaceEngine(await this.createEngine(loaded.modelPath, loaded.draftModelPath, previous));
                    } catch (restoreErr) {
                        console.error(`presage: could not bring back ${loaded.modelPath}: ${firstLine(restoreErr)}`);
                        if (this.builtin != null && this.builtin !== loaded.modelPath)
                            await this.createEngine(this.builtin, null, previous).then((e) => this.replaceEngine(e), () => undefined);
                    }
                    throw refusal(again);
                }
            }
            await this.replaceEngine(engine);
            return settings.update(patch);
        }), { unbounded: true });
    }

    /** Runs a reload of the loaded models with the loading bar shown, as any load (a first GPU load says it compiles kernels). */
    private async shownAsLoading<T>(reload: () => Promise<T>): Promise<T> {
        const loaded = this.current?.info;
        if (loaded == null) return reload();
        this.setLoading({ target: loaded.modelPath, draft: loaded.draftModelPath, builtin: loaded.modelPath === this.builtin, startedAt: Date.now(), progress: null });
        try {
            return await reload();
        } finally {
            this.setLoading(null);
        }
    }

    /** Throws the one-line refusal of a backend llama.cpp cannot run here, naming what can. */
    private async requireBackend(backend: Settings["backend"]): Promise<void> {
        try {
            await getRuntime({ backend });
        } catch (err) {
            const available = await availableBackends();
            const why = firstLine(err).replace(/^The \w+ backend of llama\.cpp is not available here \((.*)\); choose.*$/, "$1");
            throw new ServiceError("invalid-request", `The ${backend} backend is not available on this machine (${why}): choose one available here: ${available.join(", ")}.`);
        }
    }

    /** The models folder (created on first use), its files, the built-in model, what is loaded, downloads. */
    async listModels(): Promise<ModelsResponse> {
        const dirError = await ensureFolder(this.dir);
        const inFolder = dirError == null ? await listModelFiles(this.dir) : [];
        return {
            dir: this.dir,
            dirError,
            files: this.withBuiltin(inFolder),
            loaded: this.info(),
            loading: this.loadingNow,
            recommended: recommendedPairs(inFolder),
            downloads: this.downloads.list(),
            pairDownloads: this.downloads.listPairs()
        };
    }

    /** Every model a request may name: the models folder's files, then the built-in one. */
    async availableModels(): Promise<AvailableModel[]> {
        await ensureFolder(this.dir);
        const files = this.withBuiltin(await listModelFiles(this.dir));
        const seen = new Set<string>();
        const out: AvailableModel[] = [];
        for (const f of files) {
            const id = modelIdOf(f.path);
            if (seen.has(id)) continue;
            seen.add(id);
            out.push({ id, path: f.path, builtin: f.builtin === true });
        }
        return out;
    }

    /**
     * The model file a request names (an id from `availableModels`, with or without ".gguf"), for
     * `use({ model })`. Naming none means the loaded model; with none loaded or loading, the last used
     * one, else the built-in one, is loaded for it.
     * @throws ServiceError "model-not-found" when no such model is here.
     */
    async requestedModel(name: string | null | undefined): Promise<string | undefined> {
        const engine = this.current;
        if (name == null || name === "") {
            if (engine != null || this.pending.size > 0) return undefined;
            return this.defaultModel() ?? undefined;
        }
        const id = name.replace(/\.gguf$/i, "");
        if (engine != null && modelIdOf(engine.info.modelPath) === id) return engine.info.modelPath;
        const found = (await this.availableModels()).find((m) => m.id === id);
        if (found == null) throw new ServiceError("model-not-found", `The model "${name.slice(0, 200)}" is not in the models folder ${this.dir}: GET /v1/models lists the ones that are.`);
        return found.path;
    }

    /**
     * Uses another models folder from now on, and remembers it. It is created if missing.
     * @throws ServiceError "invalid-request" when it is not an absolute path or cannot be used.
     */
    async setModelsFolder(request: unknown): Promise<ModelsResponse> {
        const { dir: asked } = validate(modelsFolderSchema, request, "models folder");
        if (!isAbsolute(asked)) throw new ServiceError("invalid-request", `"${asked.slice(0, 200)}" is not an absolute path: give the whole path of the folder.`);
        const dir = resolve(asked);
        const problem = await ensureFolder(dir);
        if (problem != null) throw new ServiceError("invalid-request", problem);
        this.dir = dir;
        this.downloads.setDir(dir);
        this.options.store?.setJson(modelsDirKey, dir);
        this.options.events.publish({ type: "models-folder", dir });
        return this.listModels();
    }

    /** Downloads a recommended pair (or resumes it); "pair-download" events tell how it goes. */
    async downloadPair(request: unknown): Promise<PairDownloadProgress> {
        const { pairId } = validate(pairDownloadSchema, request, "pair download request");
        const problem = await ensureFolder(this.dir);
        if (problem != null) throw new ServiceError("invalid-request", problem);
        const pair = recommendedPairs(await listModelFiles(this.dir)).find((p) => p.id === pairId);
        if (pair == null) throw new ServiceError("not-found", `There is no recommended pair "${pairId.slice(0, 100)}".`);
        return this.downloads.startPair(pair);
    }

    /**
     * Loads what was used last (if its file is still there), else the built-in model. Failures are
     * reported on the console and as events, never thrown: the app still starts.
     */
    async restore(): Promise<void> {
        const settings = this.options.settings;
        // A stored backend that no longer starts (a GPU or its driver gone) would leave the app
        // without a model at every start: fall back to "auto" and say so once (the change is kept).
        const { backend } = settings.get();
        if (backend !== "auto" && backend !== "cpu") {
            try {
                await getRuntime({ backend });
            } catch (err) {
                console.error(`presage: the ${backend} backend chosen in Settings is not available here (${firstLine(err).replace(/^The \w+ backend of llama\.cpp is not available here \((.*)\); choose.*$/, "$1")}); using "auto" instead.`);
                settings.update({ backend: "auto" });
            }
        }
        const { targetModel, draftModel } = settings.get();
        if (targetModel != null && existsSync(targetModel)) {
            const draft = draftModel != null && existsSync(draftModel) ? draftModel : null;
            if (await this.tryLoad(targetModel, draft)) return;
        } else if (targetModel != null) {
            console.error(`presage: the model used last, ${targetModel}, is not there any more; loading the built-in model instead.`);
        }
        if (this.builtin == null || this.current != null) return;
        if (await this.tryLoad(this.builtin, null)) return;
        // The built-in model always loads: if the stored load settings (GPU layers, context,
        // threads) are what fails, go back to the defaults and say so once.
        const defaults = { backend: "auto", gpuLayers: "auto", contextSize: "auto", threads: 0 } as const;
        const now = settings.get();
        if (loadKeys.every((k) => now[k] === defaults[k])) return;
        console.error(`presage: the load settings in Settings do not work with the built-in model; back to the defaults (backend auto, GPU layers auto, context auto, threads auto).`);
        settings.update(defaults);
        await this.tryLoad(this.builtin, null);
    }

    /** A load at start: said at once (the window and `presage serve` show it), failures only logged. */
    private async tryLoad(target: string, draft: string | null): Promise<boolean> {
        this.setLoading({ target, draft, builtin: target === this.builtin, startedAt: Date.now(), progress: null });
        try {
            // What was loaded last (perhaps with --model, from anywhere) is the user's own choice.
            await this.load({ target, draft }, { anywhere: true });
            return true;
        } catch (err) {
            if (this.loadingNow?.target === target) this.setLoading(null);
            console.error(`presage: could not load ${target === this.builtin ? "the built-in model" : target}: ${firstLine(err)}`);
            return false;
        }
    }

    private defaultModel(): string | null {
        const last = this.options.settings.get().targetModel;
        return last != null && existsSync(last) ? last : this.builtin;
    }

    private withBuiltin(files: ModelFile[]): ModelFile[] {
        const builtin = this.builtin;
        // A copy in the folder (e.g. from `presage models pull`) stands for it.
        if (builtin == null || files.some((f) => f.path === builtin || f.name === basename(builtin))) return files;
        let size = 0;
        try {
            size = statSync(builtin).size;
        } catch {
            return files;
        }
        return [...files, { name: basename(builtin), path: builtin, size, builtin: true }];
    }

    /** A name from the window or a request: the models folder first, then the built-in model. */
    private async resolveName(name: string, anywhere = false): Promise<string> {
        if (this.builtin != null && isAbsolute(name) && resolve(name) === this.builtin) return this.builtin;
        try {
            return await resolveModelPath(this.dir, name, { anywhere });
        } catch (err) {
            if (this.builtin != null && !isAbsolute(name) && modelIdOf(name) === modelIdOf(this.builtin)) return this.builtin;
            throw err;
        }
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
    async use<T>(task: (engine: RemoteEngine) => Promise<T>, options: UseOptions = {}): Promise<T> {
        const wanted = options.model;
        if (wanted == null && this.current == null && this.revive == null) {
            // A load asked for (at start: the last used or built-in model) may not be in the queue yet.
            if (this.pending.size > 0) await Promise.allSettled([...this.pending]);
            else if (!this.queue.running) throw noModel();
        }
        return this.queue.run(async () => {
            // Just-in-time loading: in the request's own turn, so it waits like any request.
            if (wanted != null && this.current?.info.modelPath !== wanted) await this.loadNow(wanted, null);
            // The engine process died under the loaded models: this request loads them again.
            else if (this.current == null && this.revive != null) await this.reviveNow();
            const engine = this.current;
            if (engine == null) throw noModel();
            return task(engine);
        }, options);
    }

    /** Whether `draft` can draft for `target` (same vocabulary), from their vocabularies alone. */
    async checkDraft(request: unknown): Promise<DraftCheckResponse> {
        const { target, draft } = validate(checkDraftSchema, request, "draft check");
        const targetPath = await this.resolveName(target);
        const draftPath = await this.resolveName(draft);
        const reason = await this.vocabularyReason(targetPath, draftPath);
        return { compatible: reason == null, reason };
    }

    /**
     * Loads a target and optional draft with the current backend settings, replacing what was loaded
     * only once the new models have loaded: a file that fails leaves the working model in place.
     * A draft with another vocabulary is refused before anything is loaded.
     * @throws ServiceError "model-not-found", "vocabulary-mismatch" (400), "invalid-model".
     */
    load(request: unknown, options: LoadOptions = {}): Promise<EngineInfo> {
        const loading = this.loadRequested(request, options.anywhere === true);
        this.pending.add(loading);
        void loading.catch(() => undefined).finally(() => this.pending.delete(loading));
        return loading;
    }

    private async loadRequested(request: unknown, anywhere: boolean): Promise<EngineInfo> {
        const req = validate(loadModelSchema, request, "model load request");
        const targetPath = await this.resolveName(req.target, anywhere);
        const draftPath = req.draft == null ? null : await this.resolveName(req.draft, anywhere);
        if (draftPath != null) {
            const reason = await this.vocabularyReason(targetPath, draftPath);
            if (reason != null) throw new ServiceError("vocabulary-mismatch", `The draft model cannot draft for this target because their vocabularies differ: ${reason}. Choose a draft from the same model family.`);
        }
        return this.queue.run(() => this.loadNow(targetPath, draftPath), { unbounded: true });
    }

    /** Loads and swaps in a new engine; runs inside the queue. */
    private async loadNow(targetPath: string, draftPath: string | null): Promise<EngineInfo> {
        this.setLoading({ target: targetPath, draft: draftPath, builtin: targetPath === this.builtin, startedAt: Date.now(), progress: null });
        try {
            // A broken file is refused before the working model is touched.
            for (const path of draftPath == null ? [targetPath] : [targetPath, draftPath]) {
                try {
                    await validateGgufFile(path);
                } catch (err) {
                    throw new ServiceError("invalid-model", `${firstLine(err)} Download the model again or choose another file.`);
                }
            }
            let engine: RemoteEngine;
            try {
                engine = await this.createEngine(targetPath, draftPath);
            } catch (err) {
                const old = this.current?.info;
                if (old == null || err instanceof ServiceError) throw loadError(err);
                // Perhaps both do not fit in memory at once: free the working model, try again, and
                // bring the working one back if the new one still fails.
                await this.replaceEngine(null);
                try {
                    engine = await this.createEngine(targetPath, draftPath);
                } catch (again) {
                    try {
                        await this.replaceEngine(await this.createEngine(old.modelPath, old.draftModelPath));
                    } catch (restoreErr) {
                        console.error(`presage: could not bring back ${old.modelPath}: ${firstLine(restoreErr)}`);
                    }
                    throw loadError(again);
                }
            }
            // A worker left out (did not answer) or on an open network: one line each, as it happens.
            for (const note of engine.info.rpc?.notes ?? []) console.error(`presage: ${note}`);
            await this.replaceEngine(engine);
            this.options.settings.update({ targetModel: targetPath, draftModel: draftPath });
            return this.info()!;
        } finally {
            this.setLoading(null);
        }
    }

    private async createEngine(targetPath: string, draftPath: string | null, s: Settings = this.options.settings.get()): Promise<RemoteEngine> {
        const options: EngineLoadOptions = {
            modelPath: targetPath,
            draftModelPath: draftPath ?? undefined,
            backend: s.backend,
            gpuLayers: s.gpuLayers,
            // "auto": the engine's default, the model's trained context (capped to bound memory).
            contextSize: s.contextSize === "auto" ? undefined : s.contextSize,
            threads: this.options.threads ?? (s.threads > 0 ? s.threads : undefined),
            rpcWorkers: this.options.rpcWorkers ?? rpcWorkersForLoad(s.rpcWorkers),
            calibrate: this.options.calibrate ?? true,
            cacheDir: this.options.cacheDir,
            datastorePath: this.options.datastorePath ?? null
        };
        const onProgress = (progress: number) => {
            if (this.loadingNow != null) this.setLoading({ ...this.loadingNow, progress });
        };
        const onNote = (note: string) => {
            if (this.loadingNow != null) this.setLoading({ ...this.loadingNow, note });
        };
        try {
            return await this.engineProcess.load(options, onProgress, onNote);
        } catch (err) {
            if (!(err instanceof EngineStoppedError)) throw err;
            // A process can die for reasons of the moment (memory taken by another program, a GPU
            // driver reset): once more in a new process; a model that kills it every time fails here.
            console.error(`presage: ${err.message} Trying once more.`);
            try {
                return await this.engineProcess.load(options, onProgress, onNote);
            } catch (again) {
                if (!(again instanceof EngineStoppedError)) throw again;
                throw new EngineStoppedError(`${again.message.replace(/\.$/, "")} twice: choose another model or other load settings.`, again.exit);
            }
        }
    }

    /**
     * The engine process died. Its engines are gone: the answer in flight has failed already; the
     * loaded models are loaded again in the queue's order, by the first request waiting, or here.
     */
    private engineStopped(): void {
        const dead = this.current;
        if (dead == null || dead.alive) return;
        this.current = null;
        this.revive = { target: dead.info.modelPath, draft: dead.info.draftModelPath };
        this.options.events.publish({ type: "engine", engine: null });
        const reloading = this.queue.run(async () => {
            if (this.current == null && this.revive != null) await this.reviveNow();
        }, { unbounded: true });
        this.pending.add(reloading);
        void reloading.catch((err) => console.error(`presage: could not load the model again: ${firstLine(err)}`)).finally(() => this.pending.delete(reloading));
    }

    /** Loads what the engine process held when it died; runs inside the queue. */
    private async reviveNow(): Promise<void> {
        const revive = this.revive!;
        try {
            await this.loadNow(revive.target, revive.draft);
        } finally {
            // Tried: a later request asks for a model as usual (no reload loop on a model that keeps dying).
            if (this.revive === revive) this.revive = null;
        }
    }

    private setLoading(loading: ModelLoading | null): void {
        this.loadingNow = loading;
        this.options.events.publish({ type: "model-loading", loading });
    }

    /** Unloads the engine (waits for the running answer). */
    unload(): Promise<void> {
        return this.queue.run(() => this.replaceEngine(null), { unbounded: true });
    }

    /** Stops downloads and frees the engine (after the running answer, which the caller stops). */
    async close(): Promise<void> {
        await this.downloads.close();
        await this.unload();
        await this.engineProcess.close();
    }

    private async replaceEngine(engine: RemoteEngine | null): Promise<void> {
        const old = this.current;
        if (engine != null) this.revive = null;
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
            throw loadError(err);
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

/** The backends that start here: "auto" and "cpu" always, and each GPU backend whose runtime loads. */
async function availableBackends(): Promise<string[]> {
    const out = ["auto", "cpu"];
    const gpus = await getLlamaGpuTypes("supported").catch(() => [] as string[]);
    for (const gpu of gpus) {
        if (gpu === false as unknown) continue;
        if (await getRuntime({ backend: gpu as Settings["backend"] }).then(() => true, () => false)) out.push(gpu as string);
    }
    return out;
}

export interface LoadOptions {
    /**
     * Accept any absolute path (the command line's --model, what was loaded last). Without it only
     * files in the models folder and the built-in model load: what the API and the window may ask.
     */
    anywhere?: boolean;
}

export interface UseOptions extends QueueRunOptions {
    /** The model file the request needs (from `requestedModel`): loaded in the request's turn if it is not. */
    model?: string;
}

/** The id a model is known by in the OpenAI API: its file name without ".gguf". */
export function modelIdOf(path: string): string {
    return basename(path).replace(/\.gguf$/i, "");
}

/**
 * Creates `dir` (and its parents) if missing, one level at a time: Node's recursive mkdir never
 * returns on some paths (under /proc). Resolves to why it cannot be used, or null.
 */
export async function ensureFolder(dir: string): Promise<string | null> {
    const missing: string[] = [];
    let at = resolve(dir);
    for (;;) {
        const info = await stat(at).catch((err: NodeJS.ErrnoException) => (err.code === "ENOENT" ? null : err));
        if (info instanceof Error) return `The models folder ${dir} cannot be used (${info.code ?? info.message}): choose another one.`;
        if (info != null) {
            if (!info.isDirectory()) return `${at} is a file, not a folder: choose another models folder.`;
            break;
        }
        missing.push(at);
        const up = dirname(at);
        if (up === at) break;
        at = up;
    }
    for (const path of missing.reverse()) {
        try {
            await mkdir(path);
        } catch (err) {
            const code = (err as NodeJS.ErrnoException).code;
            if (code !== "EEXIST") return `The models folder ${dir} cannot be created (${code ?? firstLine(err)}): choose another one.`;
        }
    }
    return null;
}

function noModel(): ServiceError {
    return new ServiceError("no-model", "No model is loaded: load one in the models panel (or start the server with --model FILE).");
}

/** A failed load as callers see it: engine errors by their code, anything else as "invalid-model". */
function loadError(err: unknown): ServiceError {
    return asServiceError(err) ?? new ServiceError("invalid-model", `The model could not be loaded: ${firstLine(err)}`);
}
