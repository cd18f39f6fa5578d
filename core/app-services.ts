import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Datastore } from "../datastore/datastore.ts";
import { modelsDir as defaultModelsDir, packageRoot } from "../native-models/models-dir.ts";
import { AppService } from "./app-service.ts";
import { ChatService } from "./chat-service.ts";
import { DatastoreConversations } from "./datastore-conversations.ts";
import { DocumentService } from "./document-service.ts";
import { EngineProcess } from "./engine-process/engine-process.ts";
import type { EngineLauncher } from "./engine-process/engine-channel.ts";
import type { DatastoreChange } from "./engine-process/protocol.ts";
import { EventBus } from "./event-bus.ts";
import { GenerationService } from "./generation-service.ts";
import { ModelService, modelsDirKey } from "./model-service.ts";
import { firstLine } from "./service-error.ts";
import { SettingsService, type SettingsStore } from "./settings-service.ts";

export interface AppServicesOptions {
    /**
     * The models folder (listed, downloaded into) for this run, overriding the one chosen in the
     * window. Left out: the chosen one, else `defaultModelsDir`.
     */
    modelsDir?: string;
    /** The models folder when nothing else says (default: `models` in the app's data folder). */
    defaultModelsDir?: string;
    /** The built-in demo model (default models/stories260K.gguf); null for none. */
    builtinModel?: string | null;
    /** Where `hf:` downloads come from (default HF_ENDPOINT, else https://huggingface.co). */
    huggingFaceEndpoint?: string;
    /** Give up a download when no byte arrives for this long (default: the CLI's). */
    downloadStallTimeoutMs?: number;
    /** The datastore file (conversations, settings, documents); created if missing. */
    dbPath: string;
    /** Requests that may wait for the engine (default 16). */
    maxWaiting?: number;
    /** Measure the verification cost at load (default true): gives `speedupEstimate`. */
    calibrate?: boolean;
    /** llama.cpp threads for every load, overriding the settings. */
    threads?: number;
    /** Remote workers (llama.cpp RPC, `host:port`) every target is split across. */
    rpcWorkers?: readonly string[];
    /** Where derived drafts are cached. */
    cacheDir?: string;
    /** Ingestion worker threads. */
    ingestWorkers?: number;
    /** Starts the engine process (default: a Node child process; the desktop app's is a utility process). */
    engineLauncher?: EngineLauncher;
    /** How long a starting or loading engine process may stay silent before it is stopped (default 30 s). */
    engineLoadStallMs?: number;
    /** How long an answer asked to stop may go on before its engine process is taken as hung and ended (default 10 s). */
    engineStopGraceMs?: number;
}

/** Every service of one running app, wired together; `api` is what the adapters call. */
export interface AppServices {
    readonly api: AppService;
    readonly events: EventBus;
    readonly settings: SettingsService;
    readonly models: ModelService;
    readonly generation: GenerationService;
    readonly chat: ChatService;
    readonly documents: DocumentService;
    readonly datastore: Datastore;
    readonly version: string;
    /**
     * Loads the models the settings remember (what was loaded last time) if their files are still
     * there, else the built-in model; failures are reported on the console, never thrown.
     */
    restoreModels(): Promise<void>;
    /** Stops answers and downloads, frees the model, closes the datastore. */
    close(): Promise<void>;
}

/** Opens the datastore and builds the services over it. */
export function createAppServices(options: AppServicesOptions): AppServices {
    const datastore = Datastore.open(options.dbPath);
    const events = new EventBus();
    const settings = new SettingsService(datastore.settings, events);
    const models = new ModelService({
        modelsDir: options.modelsDir ?? storedModelsDir(datastore.settings) ?? options.defaultModelsDir ?? defaultModelsDir(),
        store: datastore.settings, builtinModel: options.builtinModel,
        huggingFaceEndpoint: options.huggingFaceEndpoint, downloadStallTimeoutMs: options.downloadStallTimeoutMs,
        settings, events,
        maxWaiting: options.maxWaiting, calibrate: options.calibrate, threads: options.threads, rpcWorkers: options.rpcWorkers, cacheDir: options.cacheDir,
        // The engine runs in its own process, which opens the datastore itself for its drafters.
        engineProcess: new EngineProcess({ launch: options.engineLauncher, loadStallMs: options.engineLoadStallMs, stopGraceMs: options.engineStopGraceMs }),
        datastorePath: datastore.path
    });
    const generation = new GenerationService(models, settings);
    const chat = new ChatService({ conversations: new DatastoreConversations(datastore), generation, models });
    const documents = new DocumentService({ datastore, events, workers: options.ingestWorkers });
    // The engine process's drafters keep their indexes in memory; they follow what this process
    // stores (answers, deletions, settings, indexing) through the same events, replayed there.
    const stopForwarding = forwardDatastoreChanges(datastore, models.engineProcess);
    models.onEngineChange((engine) => documents.attach(engine));
    const version = packageVersion();
    const api = new AppService({ version, events, settings, models, generation, chat, documents });
    let closed = false;
    return {
        api, events, settings, models, generation, chat, documents, datastore, version,
        restoreModels() {
            return models.restore();
        },
        async close() {
            if (closed) return;
            closed = true;
            chat.stopAll();
            await models.close();
            await documents.close();
            stopForwarding();
            datastore.close();
        }
    };
}

/** Replays the datastore's change events in the engine process; returns the function that stops it. */
function forwardDatastoreChanges(datastore: Datastore, engines: EngineProcess): () => void {
    const names = ["index-changed", "message-added", "messages-removed", "setting-changed"] as const;
    const stops = names.map((name) => {
        const listener = (...args: unknown[]) => engines.notify({ type: "datastore-change", change: { name, args } as DatastoreChange });
        datastore.events.on(name, listener as never);
        return () => void datastore.events.off(name, listener as never);
    });
    return () => stops.forEach((stop) => stop());
}

/** The models folder chosen in the window, when it is still a sensible value. */
function storedModelsDir(store: SettingsStore): string | undefined {
    const dir = store.getJson(modelsDirKey);
    return typeof dir === "string" && dir !== "" ? dir : undefined;
}

function packageVersion(): string {
    try {
        return (JSON.parse(readFileSync(join(packageRoot, "package.json"), "utf8")) as { version: string }).version;
    } catch {
        return "0.0.0";
    }
}
