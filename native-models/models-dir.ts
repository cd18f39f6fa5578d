import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** The package root, whatever the current directory. */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");

/** The trained model the tests and benchmarks use: stories260K from llama2.c's tinyllamas. */
export const storiesModel = {
    fileName: "stories260K.gguf",
    uri: "hf:ggml-org/models/tinyllamas/stories260K.gguf",
    sha256: "270cba1bd5109f42d03350f60406024560464db173c0e387d91f0426d3bd256d",
    size: 1_185_376
} as const;

/** `PRESAGE_MODELS_DIR`, or `../shared/models` beside the package. */
export function modelsDir(): string {
    return resolve(process.env.PRESAGE_MODELS_DIR ?? join(packageRoot, "..", "shared", "models"));
}

/** The built-in demo model shipped inside the package (`models/stories260K.gguf`). */
export const builtinModelPath = join(packageRoot, "models", storiesModel.fileName);

/** The path of stories260K.gguf: the models folder's copy if there is one, else the built-in one. */
export function findStoriesModel(): string | undefined {
    const path = join(modelsDir(), storiesModel.fileName);
    if (existsSync(path)) return path;
    return existsSync(builtinModelPath) ? builtinModelPath : undefined;
}
