import { Datastore } from "../datastore/datastore.ts";
import { attachDatastoreDrafters as attach } from "../native-models/drafters/datastore-drafters.ts";
import type { PresageEngine } from "../native-models/engine/presage-engine.ts";
import { CliError } from "./command.ts";

/**
 * Plugs the datastore's retrieval and history drafters into the engine for `--db FILE`; returns a
 * function that unplugs them and closes the store.
 */
export async function attachDatastoreDrafters(engine: PresageEngine, dbPath: string): Promise<() => Promise<void>> {
    let datastore: Datastore;
    try {
        datastore = Datastore.open(dbPath);
    } catch (err) {
        throw new CliError((err as Error).message);
    }
    const detach = attach(engine, datastore);
    return async () => {
        detach();
        datastore.close();
    };
}
