import { join, resolve } from "node:path";
import { appDataDir } from "../native-models/models-dir.ts";

/**
 * Where Presage keeps its datastore when run headless: PRESAGE_DATA_DIR, else the platform's place
 * for application data (the same folder Electron's `userData` uses for an app named Presage).
 */
export function defaultDataDir(): string {
    return appDataDir();
}

/** The datastore file: PRESAGE_DB, else presage.db in the data folder. */
export function defaultDbPath(): string {
    return process.env.PRESAGE_DB ? resolve(process.env.PRESAGE_DB) : join(defaultDataDir(), "presage.db");
}
