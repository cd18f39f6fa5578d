import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Datastore } from "../../datastore/datastore.ts";
import { packageRoot } from "../../native-models/models-dir.ts";
import { AppService } from "./app-service.ts";
import { ChatService } from "./chat-service.ts";
import { DatastoreConversations } from "./datastore-conversations.ts";
import { attachDatastoreDrafters } from "../../native-models/drafters/datastore-drafters.ts";
import { DocumentService } from "./document-service.ts";
import { EventBus } from "./event-bus.ts";
import { GenerationService } from "./generation-service.ts";
import { ModelService } from "./model-service.ts";
import { firstLine } from "./service-error.ts";
import { SettingsService } from "./settings-service.ts";

export interface AppServicesOptions {
    /** The models folder (listed, downloaded into). */
    modelsDir: string;
    /** The datastore file (conversations, settings, documents); created if missing. */
    dbPath: string;
    /** Requests that may wait for the engine (default 16). */
    maxWaiting?: number;
    /** Measure the verification cost at load (default true): gives `speedupEstimate`. */
    calibrate?: boolean;
    /** llama.cpp threads for every load, overriding the settings. */
    threads?: number;
    /** Where derived drafts are cached. */
    cacheDir?: string;
    /** Ingestion worker threads. */
    ingestWorkers?: number;
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
     * there; failures are reported on the console and as an "engine" event with null, never thrown.
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
        modelsDir: options.modelsDir, settings, events,
        maxWaiting: options.maxWaiting, calibrate: options.calibrate, threads: options.threads, cacheDir: options.cacheDir
    });
    const generation = new GenerationService(models, settings);
    const chat = new ChatService({ conversations: new DatastoreConversations(datastore), generation, models });
    const documents = new DocumentService({ datastore, events, workers: options.ingestWorkers });
    // The datastore's drafters come and go with the model (their indexes are per vocabulary).
    let detachDrafters: (() => void) | null = null;
    models.onEngineChange((engine) => {
        detachDrafters?.();
        detachDrafters = engine == null ? null : attachDatastoreDrafters(engine, datastore);
    });
    models.onEngineChange((engine) => documents.attach(engine));
    const version = packageVersion();
    const api = new AppService({ version, events, settings, models, generation, chat, documents });
    let closed = false;
    return {
        api, events, settings, models, generation, chat, documents, datastore, version,
        async restoreModels() {
            const { targetModel, draftModel } = settings.get();
            if (targetModel == null || !existsSync(targetModel)) return;
            try {
                await models.load({ target: targetModel, draft: draftModel != null && existsSync(draftModel) ? draftModel : null });
            } catch (err) {
                console.error(`presage: could not reload ${targetModel}: ${firstLine(err)}`);
            }
        },
        async close() {
            if (closed) return;
            closed = true;
            chat.stopAll();
            await models.close();
            await documents.close();
            datastore.close();
        }
    };
}

function packageVersion(): string {
    try {
        return (JSON.parse(readFileSync(join(packageRoot, "package.json"), "utf8")) as { version: string }).version;
    } catch {
        return "0.0.0";
    }
}
