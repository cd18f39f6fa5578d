import { existsSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";
import { packageRoot, unpackedPath } from "../common/package-paths.ts";

// Re-exported: the app and its tests find the package through here.
export { findPackageRoot, packageRoot, unpackedPath } from "../common/package-paths.ts";

/** The trained model the tests and benchmarks use: stories260K from llama2.c's tinyllamas. */
export const storiesModel = {
    fileName: "stories260K.gguf",
    uri: "hf:ggml-org/models/tinyllamas/stories260K.gguf",
    sha256: "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d",
    size: 1_185_376
} as const;

/**
 * Where Presage keeps its data (datastore, models folder) when no one says otherwise:
 * PRESAGE_DATA_DIR, else the platform's place for application data (the folder Electron's
 * `userData` is for an app named Presage, so the desktop app and `presage serve` share it).
 */
export function appDataDir(): string {
    if (process.env.PRESAGE_DATA_DIR) return resolve(process.env.PRESAGE_DATA_DIR);
    const home = homedir();
    if (process.platform === "darwin") return join(home, "Library", "Application Support", "Presage");
    if (process.platform === "win32") return join(process.env.APPDATA ?? join(home, "AppData", "Roaming"), "Presage");
    return join(process.env.XDG_CONFIG_HOME ?? join(home, ".config"), "Presage");
}

/**
 * Where Presage caches files it derives and can make again (early-exit drafts, the benchmark's heavy
 * twins and corpora): `PRESAGE_CACHE_DIR`, else `fallback` (the desktop app passes its data
 * folder's), else `~/.cache/presage`. Never inside the repository.
 */
export function presageCacheDir(fallback?: string): string {
    if (process.env.PRESAGE_CACHE_DIR) return resolve(process.env.PRESAGE_CACHE_DIR);
    return fallback ?? join(homedir(), ".cache", "presage");
}

/** The models folder by default: `PRESAGE_MODELS_DIR`, else `models` in the app's data folder. */
export function modelsDir(): string {
    return process.env.PRESAGE_MODELS_DIR ? resolve(process.env.PRESAGE_MODELS_DIR) : join(appDataDir(), "models");
}

/** The built-in demo model shipped inside the package (`models/stories260K.gguf`). */
export const builtinModelPath = unpackedPath(join(packageRoot, "models", storiesModel.fileName));

/** The path of stories260K.gguf: the models folder's copy if there is one, else the built-in one. */
export function findStoriesModel(): string | undefined {
    const path = join(modelsDir(), storiesModel.fileName);
    if (existsSync(path)) return path;
    return existsSync(builtinModelPath) ? builtinModelPath : undefined;
}
