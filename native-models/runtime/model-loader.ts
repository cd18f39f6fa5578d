import { stat } from "node:fs/promises";
import type { Llama, LlamaModel, Token } from "node-llama-cpp";
import { createSequenceEvaluator } from "../decoding/sequence-evaluator.ts";
import { EngineError } from "../engine-error.ts";
import { validateGgufFile } from "../gguf/gguf-reader.ts";

export interface LoadModelOptions {
    /** Layers to offload to the GPU: a number, "auto" (fit what the memory allows) or "max". */
    gpuLayers?: number | "auto" | "max";
    /** Load only the tokenizer (for indexing documents). */
    vocabOnly?: boolean;
    /** How far llama.cpp has read the weights, 0..1 (the window's loading bar). */
    onLoadProgress?: (progress: number) => void;
}

/** A model file that cannot be used (or, as a draft, not with this target), with the reason in one sentence. */
export class ModelFileError extends EngineError {
    constructor(readonly path: string, message: string, code: "invalid-model-file" | "vocabulary-mismatch" = "invalid-model-file") {
        super(code, message);
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
 * The thread count at which `model` decodes one token fastest, among one thread and every math core:
 * measured, because it depends on the model's size, the CPU and the thread pool (stories260K on two
 * cores: natively two threads are 1.3x faster; with node-llama-cpp's default thread pool one thread
 * was, since idle OpenMP teams spin against the working one). For drafters, which decode one token at
 * a time; the target measures every batch size (`VerificationCostModel`).
 */
export async function fastestThreads(model: LlamaModel, cpuMathCores: number): Promise<number> {
    const candidates = [...new Set([1, Math.max(1, cpuMathCores)])];
    if (candidates.length === 1) return candidates[0]!;
    const context = await model.createContext({ contextSize: 64, threads: candidates[0], sequences: 1 });
    try {
        const evaluator = createSequenceEvaluator(context.getSequence());
        const token = (model.tokens.bos ?? 1) as Token;
        let best = { threads: candidates[0]!, ms: Infinity };
        for (const threads of candidates) {
            evaluator.setThreadsFor?.(() => threads);
            const times: number[] = [];
            for (let i = 0; i < 12; i++) {
                const t = performance.now();
                await evaluator.decode([token], [null]);
                if (i >= 2) times.push(performance.now() - t);
                if (evaluator.tokens.length > 48) await evaluator.eraseFrom(0);
            }
            times.sort((a, b) => a - b);
            const ms = times[times.length >> 1]!;
            if (ms < best.ms) best = { threads, ms };
            // Under a millisecond on one thread: keep one (see VerificationCostModel.measure).
            if (threads === 1 && ms < 1) break;
        }
        evaluator.dispose();
        return best.threads;
    } finally {
        await context.dispose();
    }
}
