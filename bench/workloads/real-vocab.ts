import { existsSync } from "node:fs";
import { mkdir, rename } from "node:fs/promises";
import { join } from "node:path";
import { PresageEngine } from "../../native-models/engine/presage-engine.ts";
import { synthesizeModel, type SynthModelOptions } from "../../native-models/gguf/synth.ts";
import { realVocabularyPath } from "../../native-models/testing/real-vocabularies.ts";
import { ensureHeavyTwin } from "../twins/heavy-twin-cache.ts";
import type { Workload } from "../workload.ts";
import { heavyPerturb } from "./heavy.ts";

/**
 * The draft: a small random-weight model carrying Qwen2's whole tokenizer (151,936 tokens). Width 256
 * so that every matrix of its heavy twin has rows that are a multiple of 256 and is stored as real
 * Q4_K (narrower rows fall back to Q5_0, as in llama-quantize); its output head is then two thirds
 * of its weights, as in the small drafts people pair with Qwen targets.
 */
const draftShape: Omit<SynthModelOptions, "out" | "vocabularyFrom"> = { seed: 7, layers: 4, dim: 256, heads: 4, kvHeads: 2, feedForward: 768, contextLength: 1024, type: "f16" };

/** The target's size: over 1 GB at Q4_K, the smallest file of the kind users run. */
const targetParams = 1.9e9;

/** Plain English: what the real tokenizer sees from a user (multi-byte pieces included). */
const englishPrompts = [
    "Write a short note to a colleague explaining why the release moved to Friday.",
    "Summarize the main causes of the French Revolution in three sentences.",
    "What is the difference between a list and a tuple in Python? Give an example of each.",
    "Translate into French: the café on the corner opens at seven o’clock."
];

/**
 * A benchmark at a real model's vocabulary: every drawn row is a pass over 151,936 logits and the
 * output head is a large share of each decode, unlike the 512-token stories260K models.
 */
export const realVocabWorkload: Workload = {
    name: "real-vocab",
    description: `a ${targetParams / 1e9}B-parameter Q4_K heavy twin (perturbation ${heavyPerturb}) of a random-weight model with Qwen2's 151,936-token vocabulary as target, that model (${draftShape.layers} layers, width ${draftShape.dim}, F16) as draft`,
    temperatures: [0],
    async prepare({ quick, cacheDir, log, backend }) {
        const vocabulary = realVocabularyPath("qwen2");
        const dir = join(cacheDir, "real-vocab");
        const small = join(dir, `qwen2-synth-${draftShape.layers}x${draftShape.dim}-s${draftShape.seed}-${draftShape.type}.gguf`);
        if (!existsSync(small)) {
            await mkdir(dir, { recursive: true });
            const partial = `${small}.${process.pid}.partial`;
            await synthesizeModel({ ...draftShape, out: partial, vocabularyFrom: vocabulary });
            await rename(partial, small);
        }
        log(`# real-vocab: building or reusing the ${targetParams / 1e9}B Q4_K twin (about 1.2 GB, a few minutes the first time, cached)`);
        const target = await ensureHeavyTwin({ from: small, params: targetParams, perturb: heavyPerturb, seed: 1, type: "q4_k", cacheDir });
        const engine = await PresageEngine.load({ modelPath: target, draftModelPath: small, cacheDir, contextSize: 1024, backend });
        return {
            engine,
            prompts: englishPrompts.slice(0, quick ? 1 : 2),
            maxTokens: quick ? 16 : 32,
            rounds: quick ? 1 : 3,
            rows: [
                { name: "draft", strategies: ["draft"] },
                { name: "ngram", strategies: ["ngram"] },
                { name: "auto", strategies: ["auto"] },
                { name: "oracle", strategies: [], oracle: true, maxDraft: 8 }
            ],
            notes: [`plain step ${engine.cost.plainTokenMs.toFixed(1)} ms on ${engine.threads} thread(s)`, "tokenizer from llama.cpp's ggml-vocab-qwen2.gguf"],
            dispose: () => engine.dispose()
        };
    }
};
