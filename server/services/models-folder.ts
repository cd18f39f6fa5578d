import { readdir, stat } from "node:fs/promises";
import { basename, isAbsolute, join, relative, resolve } from "node:path";
import type { ModelFile } from "../app-api.ts";
import { ServiceError } from "./service-error.ts";

/** The GGUF files directly in `dir` (not partial downloads), by name. A missing folder is empty. */
export async function listModelFiles(dir: string): Promise<ModelFile[]> {
    const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.toLowerCase().endsWith(".gguf")).sort();
    const files = await Promise.all(names.map(async (name) => {
        const path = join(dir, name);
        const info = await stat(path).catch(() => null);
        return info?.isFile() ? { name, path, size: info.size } : null;
    }));
    return files.filter((f): f is ModelFile => f != null);
}

/**
 * A model named by the user: an absolute path (a file chosen anywhere), or a file name in the models
 * folder (with or without ".gguf"). Names cannot climb out of the folder.
 * @throws ServiceError "model-not-found" when there is no such file.
 */
export async function resolveModelPath(dir: string, name: string): Promise<string> {
    let path: string;
    if (isAbsolute(name)) path = resolve(name);
    else {
        path = resolve(dir, name);
        const rel = relative(resolve(dir), path);
        if (rel.startsWith("..") || isAbsolute(rel))
            throw new ServiceError("model-not-found", `"${name}" is not in the models folder ${dir}: give a file name from it or an absolute path.`);
    }
    for (const candidate of path.toLowerCase().endsWith(".gguf") ? [path] : [path, path + ".gguf"]) {
        const info = await stat(candidate).catch(() => null);
        if (info?.isFile()) return candidate;
    }
    throw new ServiceError("model-not-found", `There is no model "${basename(name)}" in ${isAbsolute(name) ? "that folder" : dir}: download it or choose another file.`);
}

/** Target/draft pairs known to share a vocabulary and to draft well, suggested in the models panel. */
export const recommendedPairs: { target: string; draft: string; note: string }[] = [
    { target: "Qwen2.5-7B-Instruct-Q4_K_M.gguf", draft: "Qwen2.5-0.5B-Instruct-Q8_0.gguf", note: "Qwen 2.5: same tokenizer; the 0.5B drafts well for the 7B and 14B." },
    { target: "Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf", draft: "Llama-3.2-1B-Instruct-Q8_0.gguf", note: "Llama 3.x: the 1B shares the 8B's 128k vocabulary." },
    { target: "gemma-2-9b-it-Q4_K_M.gguf", draft: "gemma-2-2b-it-Q8_0.gguf", note: "Gemma 2: the 2B shares the 9B's vocabulary." },
    { target: "stories260K.gguf", draft: "stories260K.gguf", note: "The tiny test model drafting for itself: checks the loop, not a speedup." }
];
