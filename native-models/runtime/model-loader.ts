import { stat } from "node:fs/promises";
import type { Llama, LlamaModel } from "node-llama-cpp";
import { validateGgufFile } from "../gguf/gguf-reader.ts";

export interface LoadModelOptions {
    /** Layers to offload to the GPU: a number, "auto" (fit what the memory allows) or "max". */
    gpuLayers?: number | "auto" | "max";
    /** Load only the tokenizer (for indexing documents). */
    vocabOnly?: boolean;
    /** How far llama.cpp has read the weights, 0..1 (the window's loading bar). */
    onLoadProgress?: (progress: number) => void;
}

/** A model file that cannot be used, with the reason in one sentence. */
export class ModelFileError extends Error {
    constructor(readonly path: string, message: string) {
        super(message);
        this.name = "ModelFileError";
    }
}

/**
 * Loads a GGUF model after checking the file ourselves: llama.cpp aborts the whole process on some
 * malformed files, and a desktop app must answer a bad download with a message, not a crash.
 */
export async function loadModelFile(llama: Llama, path: string, options: LoadModelOptions = {}): Promise<LlamaModel> {
    const info = await stat(path).catch(() => null);
    if (info == null) throw new ModelFileError(path, `There is no model file at ${path}: check the path.`);
    if (!info.isFile()) throw new ModelFileError(path, `${path} is not a file: choose a .gguf model file.`);
    try {
        await validateGgufFile(path);
    } catch (err) {
        throw new ModelFileError(path, `${(err as Error).message.split("\n")[0]} Download the model again or choose another file.`);
    }
    try {
        return await llama.loadModel({ modelPath: path, gpuLayers: options.gpuLayers ?? "auto", vocabOnly: options.vocabOnly, onLoadProgress: options.onLoadProgress });
    } catch (err) {
        throw new ModelFileError(path, `llama.cpp could not load ${path}: ${(err as Error).message.split("\n")[0]}`);
    }
}

/**
 * Threads for a model. Tiny models decode faster on one thread: llama.cpp's thread hand-offs cost more
 * than their matrix products (measured on this project's 2-core machine: stories260K 0.8 ms/token on 1
 * thread, 12 ms on 2). Larger ones use every core that is good at math: verification batches are
 * compute-bound on a CPU (150M-parameter Q8_0 model, a 3-row step: 45 ms on 1 thread, 27 ms on 2).
 */
export function defaultThreads(model: LlamaModel, cpuMathCores: number): number {
    if (model.size < 64 * 1024 * 1024) return 1;
    return Math.max(1, cpuMathCores);
}
