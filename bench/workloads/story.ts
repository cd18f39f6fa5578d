import { PresageEngine } from "../../native-models/engine/presage-engine.ts";
import { findStoriesModel } from "../../native-models/models-dir.ts";
import type { Workload } from "../workload.ts";

/** Story openings in the style stories260K was trained on. */
export const storyOpenings = [
    "Once upon a time, there was a little girl named Lily.",
    "Tom and his dog went to the park. Tom",
    "One day, a big bear found a red ball in the forest.",
    "Sara liked to paint. She painted a big sun and",
    "The little bird could not fly. It was sad because",
    "Max had a toy car. He loved to play with it every day."
];

export const storyWorkload: Workload = {
    name: "story",
    description: "stories260K continues story openings (256 tokens)",
    temperatures: [0, 0.8],
    async prepare({ quick, cacheDir, backend }) {
        const modelPath = findStoriesModel();
        if (modelPath == null) throw new Error("stories260K.gguf is missing: set PRESAGE_MODELS_DIR or run npm run models:pull");
        const engine = await PresageEngine.load({ modelPath, cacheDir, backend });
        return {
            engine,
            prompts: storyOpenings.slice(0, quick ? 3 : 6),
            maxTokens: 256,
            // An answer takes a fifth of a second, and on a shared 2-core VM one answer's time varies by
            // ±10% from the next: more rounds are cheap here and steady the medians.
            rounds: quick ? 2 : 5,
            rows: [
                { name: "ngram", strategies: ["ngram"] },
                { name: "early-exit", strategies: ["early-exit"] },
                { name: "auto", strategies: ["auto"] },
                { name: "auto-exact", strategies: ["auto"], exact: true },
                { name: "oracle", strategies: [], oracle: true, maxDraft: 8 }
            ],
            notes: [`plain step ${engine.cost.plainTokenMs.toFixed(2)} ms on ${engine.threads} thread(s)`],
            dispose: () => engine.dispose()
        };
    }
};
