import { existsSync } from "node:fs";
import { join } from "node:path";
import { packageRoot, unpackedPath } from "../common/package-paths.ts";
import { DatastoreError } from "./datastore-error.ts";

/** The parts of `process.versions` that say which runtime (and so which ABI) is loading the addon. */
export interface RuntimeVersions {
    /** Set only inside Electron. */
    electron?: string;
    /** NODE_MODULE_VERSION of the running runtime (Electron has its own, e.g. "150" for Electron 45). */
    modules: string;
}

export interface BindingTarget {
    platform: NodeJS.Platform | string;
    arch: string;
}

/**
 * Where the better-sqlite3 binary built for Electron's ABI lives: `native/better-sqlite3/
 * electron-v<ABI>-<platform>-<arch>/better_sqlite3.node` in the package (the same naming as
 * prebuild tarballs). scripts/electron-sqlite.js writes it there; a packaged app unpacks it from asar.
 */
export function electronSqliteBindingPath(abi: string, target: BindingTarget = process, root: string = packageRoot): string {
    return join(root, "native", "better-sqlite3", `electron-v${abi}-${target.platform}-${target.arch}`, "better_sqlite3.node");
}

/**
 * The `nativeBinding` option for better-sqlite3 in this runtime.
 *
 * better-sqlite3 is a V8 addon, not N-API: a binary loads only in the runtime whose ABI it was built
 * for, and Electron's ABI is not Node's. So Node (the CLI, `presage serve`, the tests) keeps the binary
 * npm built in node_modules (undefined here: better-sqlite3 finds it itself), and Electron gets the copy
 * built for its ABI in a separate folder, so one node_modules serves both. (node-llama-cpp is N-API:
 * its binaries load in either runtime unchanged.)
 *
 * @throws DatastoreError "unusable" inside Electron when that copy is missing.
 */
export function sqliteNativeBinding(versions: RuntimeVersions = process.versions, target: BindingTarget = process, root: string = packageRoot): string | undefined {
    if (versions.electron == null) return undefined;
    const path = unpackedPath(electronSqliteBindingPath(versions.modules, target, root));
    if (!existsSync(path))
        throw new DatastoreError(
            `SQLite for Electron ${versions.electron} (ABI ${versions.modules}, ${target.platform}-${target.arch}) is missing at ${path}; run "npm start" with network access, or "node scripts/electron-sqlite.js".`,
            "unusable"
        );
    return path;
}
