// Measures how closely heavy twins of stories260K follow it, for BENCHMARKS.md:
//   npx tsx bench/twins/heavy-twin-report.ts [--params 150M] [--tokens 128] [--perturb 0,0.01,0.05,0.1] [--type f16]
// Twins are built into the cache (see ensureHeavyTwin) and kept for the benchmarks.
import { stat } from "node:fs/promises";
import { parseArgs } from "node:util";
import { getRuntime } from "../../native-models/runtime/llama-runtime.ts";
import { findStoriesModel } from "../../native-models/models-dir.ts";
import { measureGreedyAgreement, greedyTokens } from "./greedy-agreement.ts";
import { ensureHeavyTwin } from "./heavy-twin-cache.ts";

const { values } = parseArgs({
    options: {
        params: { type: "string", default: "150M" },
        tokens: { type: "string", default: "128" },
        perturb: { type: "string", default: "0,0.01,0.05,0.1" },
        type: { type: "string", default: "f16" }
    }
});
const stories = findStoriesModel();
if (stories == null) throw new Error("stories260K.gguf is not in the models folder");
const params = Number(values.params.replace(/m$/i, "e6").replace(/b$/i, "e9"));
if (!(params > 0)) throw new Error(`--params must be a count like 5M or 150M, got "${values.params}"`);
const tokens = Number(values.tokens);
const type = values.type === "f32" ? "f32" : "f16";
const prompts = ["Once upon a time", "The little girl saw a big", "Tom and his dog went to the park.", "One day, a cat"];
const llama = await getRuntime();

console.log(`heavy twins of stories260K: ${values.params} params, ${type}, ${prompts.length} prompts × ${tokens} greedy tokens, threads 1`);
console.log("perturb | build s | file MiB | twin tok/s | positional | mean common prefix | teacher-forced");
for (const perturb of values.perturb.split(",").map(Number)) {
    let started = performance.now();
    const twin = await ensureHeavyTwin({ from: stories, params, perturb, type });
    const buildSeconds = (performance.now() - started) / 1000;
    const bytes = (await stat(twin)).size;

    const model = await llama.loadModel({ modelPath: twin });
    started = performance.now();
    await greedyTokens(model, prompts[0]!, tokens);
    const tokensPerSecond = tokens / ((performance.now() - started) / 1000);
    await model.dispose();

    const agreement = await measureGreedyAgreement({ llama, target: twin, candidate: stories, prompts, tokens });
    console.log(
        [
            perturb,
            buildSeconds.toFixed(1),
            (bytes / 2 ** 20).toFixed(0),
            tokensPerSecond.toFixed(1),
            agreement.positional.toFixed(3),
            agreement.meanCommonPrefix.toFixed(1),
            agreement.teacherForced.toFixed(3)
        ].join(" | ")
    );
}
