import { ensureHeavyTwin } from "../twins/heavy-twin-cache.ts";
import { PresageEngine } from "../../native-models/engine/presage-engine.ts";
import { findStoriesModel } from "../../native-models/models-dir.ts";
import type { Workload } from "../workload.ts";
import { storyOpenings } from "./story.ts";

/** Perturbation of the heavy twin: stories260K then agrees with ~84% of its greedy tokens (teacher-forced). */
export const heavyPerturb = 0.02;

export const heavyWorkload: Workload = {
    name: "heavy",
    description: `a 150M-parameter heavy twin of stories260K (Q8_0, perturbation ${heavyPerturb}) as target, stories260K as draft`,
    temperatures: [0, 0.8],
    async prepare({ quick, cacheDir, log, backend }) {
        const small = findStoriesModel();
        if (small == null) throw new Error("stories260K.gguf is missing: set PRESAGE_MODELS_DIR or run npm run models:pull");
        log("# heavy: building or reusing the 150M heavy twin (about 150 MB, cached)");
        const target = await ensureHeavyTwin({ from: small, params: 150e6, perturb: heavyPerturb, seed: 1, type: "q8_0", cacheDir });
        const engine = await PresageEngine.load({ modelPath: target, draftModelPath: small, cacheDir, contextSize: 1024, backend });
        return {
            engine,
            prompts: storyOpenings.slice(0, quick ? 1 : 3),
            maxTokens: quick ? 48 : 96,
            rows: [
                { name: "draft", strategies: ["draft"] },
                { name: "ngram", strategies: ["ngram"] },
                { name: "early-exit", strategies: ["early-exit"] },
                { name: "auto", strategies: ["auto"] },
                { name: "auto-exact", strategies: ["auto"], exact: true },
                { name: "oracle", strategies: [], oracle: true, maxDraft: 8 }
            ],
            notes: [`plain step ${engine.cost.plainTokenMs.toFixed(1)} ms on ${engine.threads} thread(s)`],
            dispose: () => engine.dispose()
        };
    }
};
