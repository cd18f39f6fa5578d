import type { Datastore } from "../../datastore/datastore.ts";
import type { PresageEngine } from "../engine/presage-engine.ts";
import { HistoryDrafter, openHistoryIndex } from "./history-drafter.ts";
import { openRetrievalIndex, RetrievalDrafter } from "./retrieval-drafter.ts";

const firstLine = (err: unknown): string => (err instanceof Error ? err.message : String(err)).split("\n")[0]!;

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
