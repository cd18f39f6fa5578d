import { createHash } from "node:crypto";
import { createReadStream, existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { basename, join } from "node:path";
import { validateGgufFile } from "../../native-models/gguf/gguf-reader.ts";
import { presageCacheDir } from "../../native-models/models-dir.ts";
import { buildHeavyTwin, type HeavyTwinOptions } from "./heavy-twin.ts";

/**
 * Bump when the construction changes, so cached twins built the old way are not reused. Q4_K twins
 * have their own: their widths became multiples of 256 (version 3) while the others stayed as they were.
 */
const constructionVersion = 2;
const q4kConstructionVersion = 3;

/**
 * The path of a heavy twin of `from` with these settings, building it into the cache the first
 * time. The key covers the source's content (sha256), so a changed source gets a new twin. Writes
 * are atomic (see `writeGgufFile`), so concurrent callers never see half a file.
 */
export async function ensureHeavyTwin(options: Omit<HeavyTwinOptions, "out"> & { cacheDir?: string }): Promise<string> {
    const { cacheDir = presageCacheDir(), ...twin } = options;
    const { params = 150e6, perturb = 0, seed = 0, type = "f16" } = twin;
    await validateGgufFile(twin.from);
    const sourceHash = await sha256File(twin.from);
    const key = createHash("sha256")
        .update(JSON.stringify([type === "q4_k" ? q4kConstructionVersion : constructionVersion, sourceHash, params, perturb, seed, type]))
        .digest("hex")
        .slice(0, 16);
    const dir = join(cacheDir, "heavy-twins");
    const out = join(dir, `${basename(twin.from, ".gguf")}-twin-${Math.round(params / 1e6)}M-p${perturb}-${type}-${key}.gguf`);
    if (!existsSync(out)) {
        await mkdir(dir, { recursive: true });
        await buildHeavyTwin({ ...twin, out });
    }
    return out;
}

async function sha256File(path: string): Promise<string> {
    const hash = createHash("sha256");
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
    return hash.digest("hex");
}
