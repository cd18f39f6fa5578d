import type { PresageEngine } from "../native-models/engine/presage-engine.ts";

/**
 * Plugs the datastore's retrieval and history drafters into the engine for `--db FILE`; returns a
 * function that closes the store.
 */
export async function attachDatastoreDrafters(_engine: PresageEngine, dbPath: string): Promise<() => Promise<void>> {
    throw new Error(`The document store is not available in this build yet (asked for ${dbPath}).`);
}
