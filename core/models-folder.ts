import { lstat, readdir, realpath, stat } from "node:fs/promises";
import { basename, isAbsolute, join, relative, resolve, sep } from "node:path";
import type { ModelFile, RecommendedPair } from "./app-api.ts";
import { ServiceError } from "./service-error.ts";

/** Whether `path`'s real location is inside the real `dir`: a symbolic link out of the folder is not in it. */
export async function isInFolder(dir: string, path: string): Promise<boolean> {
    const [realDir, real] = await Promise.all([realpath(dir).catch(() => resolve(dir)), realpath(path).catch(() => null)]);
    if (real == null) return false;
    const rel = relative(realDir, real);
    return rel !== "" && !rel.startsWith(".." + sep) && rel !== ".." && !isAbsolute(rel);
}

/**
 * The GGUF files directly in `dir` (not partial downloads), by name. A missing folder is empty.
 * A symbolic link is listed only when its target is inside the folder: what the API may load is
 * what is in the folder, not what a link points at.
 */
export async function listModelFiles(dir: string): Promise<ModelFile[]> {
    const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.toLowerCase().endsWith(".gguf")).sort();
    const files = await Promise.all(names.map(async (name) => {
        const path = join(dir, name);
        const link = (await lstat(path).catch(() => null))?.isSymbolicLink() ?? false;
        if (link && !(await isInFolder(dir, path))) return null;
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
export async function resolveModelPath(dir: string, name: string, options: { anywhere?: boolean } = {}): Promise<string> {
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
        if (!info?.isFile()) continue;
        // Over the API only the models folder's own files load (any file could be named, e.g.
        // /etc/passwd); the command line's --model and the desktop dialog's file are the user's pick.
        if (options.anywhere !== true && !(await isInFolder(dir, candidate)))
            throw new ServiceError("model-not-found", `"${basename(name)}" is not a file in the models folder ${dir}: put the model there (or add it in the window) and load it by name.`);
        return candidate;
    }
    throw new ServiceError("model-not-found", `There is no model "${basename(name)}" in ${isAbsolute(name) ? "that folder" : dir}: download it or choose another file.`);
}

const GB = 1e9;

interface PairSpec {
    id: string;
    title: string;
    note: string;
    target: { repo: string; fileName: string; sizeBytes: number };
    draft: { repo: string; fileName: string; sizeBytes: number };
    memoryBytes: number;
}

/**
 * Target/draft pairs of one family (the same vocabulary, so the draft can draft), current instruct
 * models quantized by bartowski on Hugging Face. Sizes are Hugging Face's (rounded); memory is both
 * files plus the KV cache at a 4096-token context and llama.cpp's buffers, rounded up.
 */
export const recommendedPairSpecs: readonly PairSpec[] = [
    {
        id: "qwen3-8b",
        title: "Qwen3 8B, drafted by Qwen3 0.6B",
        note: "A strong general assistant; the 0.6B shares its 151k-token vocabulary.",
        target: { repo: "bartowski/Qwen_Qwen3-8B-GGUF", fileName: "Qwen_Qwen3-8B-Q4_K_M.gguf", sizeBytes: 5.03 * GB },
        draft: { repo: "bartowski/Qwen_Qwen3-0.6B-GGUF", fileName: "Qwen_Qwen3-0.6B-Q8_0.gguf", sizeBytes: 0.64 * GB },
        memoryBytes: 8 * GB
    },
    {
        id: "llama-3.1-8b",
        title: "Llama 3.1 8B Instruct, drafted by Llama 3.2 1B Instruct",
        note: "Meta's 8B assistant; Llama 3.2 1B has the same 128k-token vocabulary.",
        target: { repo: "bartowski/Meta-Llama-3.1-8B-Instruct-GGUF", fileName: "Meta-Llama-3.1-8B-Instruct-Q4_K_M.gguf", sizeBytes: 4.92 * GB },
        draft: { repo: "bartowski/Llama-3.2-1B-Instruct-GGUF", fileName: "Llama-3.2-1B-Instruct-Q8_0.gguf", sizeBytes: 1.32 * GB },
        memoryBytes: 8 * GB
    },
    {
        id: "llama-3.2-3b",
        title: "Llama 3.2 3B Instruct, drafted by Llama 3.2 1B Instruct",
        note: "The small pair, for machines with less memory.",
        target: { repo: "bartowski/Llama-3.2-3B-Instruct-GGUF", fileName: "Llama-3.2-3B-Instruct-Q4_K_M.gguf", sizeBytes: 2.02 * GB },
        draft: { repo: "bartowski/Llama-3.2-1B-Instruct-GGUF", fileName: "Llama-3.2-1B-Instruct-Q8_0.gguf", sizeBytes: 1.32 * GB },
        memoryBytes: 5 * GB
    }
];

/** The recommended pairs, with where each file already is in `files` (the models folder). */
export function recommendedPairs(files: readonly ModelFile[]): RecommendedPair[] {
    const find = (name: string) => files.find((f) => !f.builtin && f.name === name)?.path ?? null;
    const file = (f: PairSpec["target"]) => ({ ...f, uri: `hf:${f.repo}/${f.fileName}`, path: find(f.fileName) });
    return recommendedPairSpecs.map((p) => ({ ...p, target: file(p.target), draft: file(p.draft) }));
}
