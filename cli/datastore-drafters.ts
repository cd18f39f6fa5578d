import { Datastore } from "../datastore/datastore.ts";
import { attachDatastoreDrafters } from "../core/datastore-wiring.ts";
import type { PresageEngine } from "../native-models/engine/presage-engine.ts";
import { CliError } from "./command.ts";

/**
 * Opens the datastore of `--db FILE` and plugs its retrieval and history drafters into the engine
 * (see `attachDatastoreDrafters`); returns a function that unplugs them and closes the store.
 */
export async function openDatastoreDrafters(engine: PresageEngine, dbPath: string): Promise<() => Promise<void>> {
    let datastore: Datastore;
    try {
        datastore = Datastore.open(dbPath);
    } catch (err) {
        throw new CliError((err as Error).message);
    }
    const detach = attachDatastoreDrafters(engine, datastore);
    return async () => {
        detach();
        datastore.close();
    };
}
