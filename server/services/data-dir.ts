import { homedir } from "node:os";
import { join, resolve } from "node:path";

/**
 * Where Presage keeps its datastore when run headless: PRESAGE_DATA_DIR, else the platform's place
 * for application data (the same folder Electron's `userData` uses for an app named Presage).
 */
export function defaultDataDir(): string {
    if (process.env.PRESAGE_DATA_DIR) return resolve(process.env.PRESAGE_DATA_DIR);
    const home = homedir();
    if (process.platform === "darwin") return join(home, "Library", "Application Support", "Presage");
    if (process.platform === "win32") return join(process.env.APPDATA ?? join(home, "AppData", "Roaming"), "Presage");
    return join(process.env.XDG_CONFIG_HOME ?? join(home, ".config"), "Presage");
}

/** The datastore file: PRESAGE_DB, else presage.db in the data folder. */
export function defaultDbPath(): string {
    return process.env.PRESAGE_DB ? resolve(process.env.PRESAGE_DB) : join(defaultDataDir(), "presage.db");
}
