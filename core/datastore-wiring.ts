// Where the engine meets the store. native-models/ and datastore/ do not import each other: the
// engine states what it needs (a `ContinuationIndex` to ask what followed a context), the store
// states what it needs (a `Tokenizer`, a tokenizer module for its ingestion workers), and this
// module hands each the other's parts. The app (core/, server/, electron/), the CLI and the
// benchmarks all wire through here.
import type { LlamaModel } from "node-llama-cpp";
import type { Datastore } from "../datastore/datastore.ts";
import { HistoryIndex } from "../datastore/history/history-index.ts";
import { RetrievalIndex } from "../datastore/index/retrieval-index.ts";
import { Ingestor, type IngestorOptions } from "../datastore/ingest/ingestor.ts";
import { HistoryDrafter } from "../native-models/drafters/history-drafter.ts";
import { RetrievalDrafter } from "../native-models/drafters/retrieval-drafter.ts";
import type { PresageEngine } from "../native-models/engine/presage-engine.ts";
import { modelTokenizer, tokenizerIdentity } from "../native-models/runtime/tokenizer-identity.ts";
import { firstLine } from "./service-error.ts";

/**
 * The module the ingestion workers tokenize with (native-models/runtime/vocab-tokenizer.ts). From
 * source it is that file; the Electron build bundles it as vocab-tokenizer.js beside this code
 * (scripts/build-electron.js).
 */
export const ingestTokenizerModule = new URL(
    import.meta.url.endsWith(".ts") ? "../native-models/runtime/vocab-tokenizer.ts" : "./vocab-tokenizer.js",
    import.meta.url
).href;

/**
 * Loads the documents' index for a loaded model's vocabulary (shards built for another tokenizer
 * are not used; the ingestor re-tokenizes for this one). It follows later indexing in this process.
 */
export function openRetrievalIndex(datastore: Datastore, model: LlamaModel): RetrievalIndex {
    return RetrievalIndex.open(datastore, tokenizerIdentity(model).id);
}

/** The history index for a loaded model; it follows new answers, deletions and the on/off setting. */
export function openHistoryIndex(datastore: Datastore, model: LlamaModel): HistoryIndex {
    return HistoryIndex.open({ datastore, tokenizer: modelTokenizer(model) });
}

/** Starts ingestion for a target model, its workers tokenizing with `ingestTokenizerModule`. */
export function openIngestor(options: Omit<IngestorOptions, "tokenizerModule">): Promise<Ingestor> {
    return Ingestor.create({ ...options, tokenizerModule: ingestTokenizerModule });
}

/**
 * Plugs the datastore's drafters into an engine: "retrieval" over the user's documents and "history"
 * over past answers, each backed by one index shared by every answer (drafters are made per answer
 * and are cheap). The indexes follow new documents, answers and deletions on their own. Returns the
 * function that unplugs them and closes the indexes.
 */
export function attachDatastoreDrafters(engine: PresageEngine, datastore: Datastore): () => void {
    const closers: (() => void)[] = [];
    try {
        const documents = openRetrievalIndex(datastore, engine.model);
        closers.push(() => documents.close());
        engine.setDrafterFactory("retrieval", () => new RetrievalDrafter(documents));
    } catch (err) {
        console.error(`presage: the documents cannot draft for this model: ${firstLine(err)}`);
    }
    try {
        const history = openHistoryIndex(datastore, engine.model);
        closers.push(() => history.close());
        engine.setDrafterFactory("history", () => new HistoryDrafter(history));
    } catch (err) {
        console.error(`presage: past answers cannot draft for this model: ${firstLine(err)}`);
    }
    return () => {
        engine.setDrafterFactory("retrieval", null);
        engine.setDrafterFactory("history", null);
        for (const close of closers) close();
    };
}
