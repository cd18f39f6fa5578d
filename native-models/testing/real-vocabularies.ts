import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { presageCacheDir } from "../models-dir.ts";

/** llama.cpp's vocabulary-only GGUFs the tests use (`models/ggml-vocab-<name>.gguf` in its source). */
export type RealVocabularyName = "qwen2" | "qwen35" | "llama-bpe" | "gemma-4" | "phi-3";

/** The git bundle of the llama.cpp source that node-llama-cpp ships (and builds from). */
export function llamaSourceBundle(): string {
    // Its package.json is not exported, so walk up from its entry point to the package folder.
    let dir = dirname(createRequire(import.meta.url).resolve("node-llama-cpp"));
    while (!existsSync(join(dir, "package.json")) && dirname(dir) !== dir) dir = dirname(dir);
    return join(dir, "llama", "gitRelease.bundle");
}

/**
 * The path of a real vocabulary file, extracted once from node-llama-cpp's llama.cpp bundle into the
 * cache (`PRESAGE_CACHE_DIR`, else ~/.cache/presage: never the repository) and reused after. No
 * download: the bundle is installed with node-llama-cpp. Files are keyed by the bundle's commit, so a
 * new node-llama-cpp brings its own; each is written under a temporary name and renamed, so test
 * files extracting at once never read half a file.
 */
export function realVocabularyPath(name: RealVocabularyName): string {
    const bundle = llamaSourceBundle();
    if (!existsSync(bundle)) throw new Error(`${bundle} is missing: reinstall node-llama-cpp to get llama.cpp's vocabulary files`);
    const commit = execFileSync("git", ["bundle", "list-heads", bundle], { encoding: "utf8" }).trim().split(/\s+/)[0]!.slice(0, 12);
    const dir = join(presageCacheDir(), "llama-vocab", commit);
    const out = join(dir, `ggml-vocab-${name}.gguf`);
    if (existsSync(out)) return out;
    mkdirSync(dir, { recursive: true });
    const repository = join(dir, "llama-src.git");
    if (!existsSync(join(repository, "HEAD"))) {
        const partial = `${repository}.${process.pid}.${randomBytes(4).toString("hex")}`;
        execFileSync("git", ["clone", "--bare", "--quiet", bundle, partial], { stdio: ["ignore", "ignore", "pipe"] });
        try {
            renameSync(partial, repository);
        } catch {
            // Another process cloned it first; theirs is as good.
            rmSync(partial, { recursive: true, force: true });
        }
    }
    const bytes = execFileSync("git", ["--git-dir", repository, "show", `HEAD:models/ggml-vocab-${name}.gguf`], { maxBuffer: 1 << 28 });
    const partial = `${out}.${process.pid}.${randomBytes(4).toString("hex")}.partial`;
    writeFileSync(partial, bytes);
    renameSync(partial, out);
    return out;
}
