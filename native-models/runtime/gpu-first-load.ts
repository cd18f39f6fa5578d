import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { access, mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Llama } from "node-llama-cpp";
import { readGgufFile, type GgufFile } from "../gguf/gguf-reader.ts";

/** What the loading bar says while a GPU backend compiles its kernels for a model it has not run yet. */
export const firstGpuLoadNote = "preparing the GPU: first load only";

/** What decides which GPU kernels a load compiles: the same key, the same (cached) kernels. */
export interface GpuLoadKey {
    backend: string;
    devices: string[];
    /** llama.cpp's build (its kernels) and node-llama-cpp's version, which ships it. */
    llamaCpp: string;
    nodeLlamaCpp: string;
    /** A hash of the model's architecture and tensor types and shapes (not its weights). */
    modelShape: string;
}

export interface GpuLoadKeyOptions {
    /** `llama.gpu`: false for the CPU backend. */
    gpu: Llama["gpu"];
    devices: readonly string[];
    llamaCpp: string;
    nodeLlamaCpp: string;
    model: GgufFile;
    gpuLayers: number | "auto" | "max" | undefined;
}

/**
 * The key of a load, or null where no GPU kernels are compiled for it: the CPU backend, or no layer
 * offloaded. Kernels are compiled per tensor type and shape (Vulkan's pipelines, CUDA's and Metal's
 * kernels alike), so two models of one shape share them whatever their weights.
 */
export function gpuLoadKey(options: GpuLoadKeyOptions): GpuLoadKey | null {
    if (options.gpu === false || options.gpuLayers === 0) return null;
    const shapes = new Set<string>();
    for (const t of options.model.tensors) shapes.add(`${t.typeName}:${t.shape.join("x")}`);
    const architecture = String(options.model.metadata["general.architecture"] ?? "?");
    const modelShape = createHash("sha256").update([architecture, ...[...shapes].sort()].join("\n")).digest("hex").slice(0, 32);
    return { backend: options.gpu, devices: [...options.devices], llamaCpp: options.llamaCpp, nodeLlamaCpp: options.nodeLlamaCpp, modelShape };
}

/**
 * Which GPU loads have succeeded before: one small file each under `<cacheDir>/gpu-loads`, written
 * after a load succeeded. A load whose key has none compiles the device's kernels first (tens of
 * seconds on Vulkan; the driver caches them), which the loading bar says.
 */
export class GpuLoadMarkers {
    private readonly dir: string;

    constructor(cacheDir: string) {
        this.dir = join(cacheDir, "gpu-loads");
    }

    /** The key of loading `modelPath` on `llama` with `gpuLayers`, or null where no GPU kernels are compiled. */
    static async keyOf(llama: Llama, modelPath: string, gpuLayers: GpuLoadKeyOptions["gpuLayers"]): Promise<GpuLoadKey | null> {
        if (llama.gpu === false || gpuLayers === 0) return null;
        const model = await readGgufFile(modelPath);
        const release = llama.llamaCppRelease;
        return gpuLoadKey({ gpu: llama.gpu, devices: await llama.getGpuDeviceNames(), llamaCpp: `${release.repo}@${release.release} ${llama.buildType}`, nodeLlamaCpp: nodeLlamaCppVersion(), model, gpuLayers });
    }

    /** Whether a load with this key succeeded before (null keys: nothing to compile, so yes). */
    async seen(key: GpuLoadKey | null): Promise<boolean> {
        if (key == null) return true;
        return access(this.path(key)).then(() => true, () => false);
    }

    /** Remembers that a load with this key succeeded. A cache that cannot be written only costs the note. */
    async remember(key: GpuLoadKey | null): Promise<void> {
        if (key == null) return;
        try {
            await mkdir(this.dir, { recursive: true });
            await writeFile(this.path(key), `${JSON.stringify(key)}\n`);
        } catch {
            // Read-only or full: the next load says "first load" again, nothing worse.
        }
    }

    private path(key: GpuLoadKey): string {
        return join(this.dir, `${createHash("sha256").update(JSON.stringify(key)).digest("hex").slice(0, 32)}.json`);
    }
}

let version: string | null = null;

/** node-llama-cpp's version, from its package.json ("unknown" in a bundle that does not carry it). */
function nodeLlamaCppVersion(): string {
    if (version != null) return version;
    try {
        // Its exports do not include package.json: found from its entry, two folders up (dist/index.js).
        const entry = fileURLToPath(import.meta.resolve("node-llama-cpp"));
        version = String((JSON.parse(readFileSync(join(dirname(entry), "..", "package.json"), "utf8")) as { version?: unknown }).version ?? "unknown");
    } catch {
        version = "unknown";
    }
    return version;
}
