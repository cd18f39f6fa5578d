import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { readGgufFileInfo } from "node-llama-cpp";
import { EngineError } from "../engine-error.ts";
import { deriveEarlyExitDraft } from "../gguf/derive-draft.ts";

export interface EarlyExitOptions {
    cacheDir: string;
    /** Blocks to keep; default: half the target's, rounded up. */
    layers?: number;
}

/**
 * The path of an early-exit draft of `targetPath` (its first blocks plus its output head), deriving it
 * into the cache the first time. The cache key covers the target's path, size and mtime, so a replaced
 * model file gets a new draft.
 */
export async function ensureEarlyExitDraft(targetPath: string, options: EarlyExitOptions): Promise<string> {
    const info = await stat(targetPath);
    const gguf = await readGgufFileInfo(targetPath, { readTensorInfo: false });
    const arch = String((gguf.metadata.general as { architecture?: string }).architecture);
    const blocks = Number((gguf.metadata as unknown as Record<string, { block_count?: number }>)[arch]?.block_count ?? 0);
    if (blocks < 2) throw new EngineError("strategy-unavailable", `The model has ${blocks} block(s): an early-exit draft needs at least 2.`);
    const layers = Math.min(blocks - 1, Math.max(1, options.layers ?? Math.ceil(blocks / 2)));
    const key = createHash("sha256").update(`${targetPath}\0${info.size}\0${info.mtimeMs}`).digest("hex").slice(0, 16);
    const dir = join(options.cacheDir, "early-exit");
    const out = join(dir, `${basename(targetPath, ".gguf")}-${key}-L${layers}.gguf`);
    if (!existsSync(out)) {
        await mkdir(dir, { recursive: true });
        await deriveEarlyExitDraft({ from: targetPath, layers, out });
    }
    return out;
}
