import { ensureHeavyTwin } from "../twins/heavy-twin-cache.ts";
import { PresageEngine } from "../../native-models/engine/presage-engine.ts";
import { findStoriesModel } from "../../native-models/models-dir.ts";
import type { WeightTypeName } from "../../native-models/gguf/weight-type.ts";
import type { Workload } from "../workload.ts";
import { heavyPerturb } from "./heavy.ts";
import { storyOpenings } from "./story.ts";

/**
 * A memory-bound target: a 1.5B-parameter heavy twin (1.6 GB at Q8_0), larger than the CPU's
 * last-level cache, so each token streams the weights from memory and a batch of a few rows costs
 * little more than one (the regime speculative decoding is for: a 7B model on a laptop). The Q4_K
 * twin is the same model as people run it: fewer bytes per token, more arithmetic per byte.
 */
function largeTwinWorkload(name: string, type: WeightTypeName, size: string): Workload {
    const label = type.toUpperCase();
    return {
        name,
        description: `a 1.5B-parameter heavy twin of stories260K (${label}, ${size}, perturbation ${heavyPerturb}) as target, stories260K as draft`,
        temperatures: [0, 0.8],
        async prepare({ quick, cacheDir, log, backend }) {
            const small = findStoriesModel();
            if (small == null) throw new Error("stories260K.gguf is missing");
            log(`# ${name}: building or reusing the 1.5B ${label} heavy twin (${size}, a minute or more the first time, cached)`);
            const target = await ensureHeavyTwin({ from: small, params: 1500e6, perturb: heavyPerturb, seed: 1, type, cacheDir });
            const engine = await PresageEngine.load({ modelPath: target, draftModelPath: small, cacheDir, contextSize: 512, backend });
            return {
                engine,
                // A token takes ~0.2 s on this project's 2-core machine: few prompts, short answers.
                prompts: storyOpenings.slice(0, quick ? 1 : 2),
                maxTokens: quick ? 24 : 32,
                rounds: quick ? 1 : 3,
                // No early exit here: its derived draft would be another 0.8 GB file for a drafter that
                // degenerates on untuned models (see the story and heavy rows).
                rows: [
                    { name: "draft", strategies: ["draft"] },
                    { name: "ngram", strategies: ["ngram"] },
                    { name: "auto", strategies: ["auto"] },
                    { name: "oracle", strategies: [], oracle: true, maxDraft: 8 }
                ],
                notes: [`plain step ${engine.cost.plainTokenMs.toFixed(1)} ms on ${engine.threads} thread(s)`],
                dispose: () => engine.dispose()
            };
        }
    };
}

export const largeWorkload = largeTwinWorkload("large", "q8_0", "1.6 GB");
export const largeQ4kWorkload = largeTwinWorkload("large-q4k", "q4_k", "0.9 GB");
