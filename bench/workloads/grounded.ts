import { createHash } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Datastore } from "../../datastore/datastore.ts";
import { attachDatastoreDrafters, openIngestor } from "../../core/datastore-wiring.ts";
import { PresageEngine } from "../../native-models/engine/presage-engine.ts";
import { findStoriesModel } from "../../native-models/models-dir.ts";
import { runDatastoreBench } from "../datastore-bench.ts";
import { buildGroundedCorpus, groundedHeldOutPrompts, storySeparator } from "../grounded-corpus.ts";
import type { Workload } from "../workload.ts";

/**
 * REST's setting: a store of text like what the model will write. 500k tokens of stories sampled from
 * stories260K (temperature 0.8, fixed seeds) are indexed as the user's documents; the prompts are
 * openings of held-out stories sampled with other seeds, so no prompt is in the store.
 */
export const groundedWorkload: Workload = {
    name: "grounded",
    description: "stories260K with a 500k-token store of its own sampled stories (REST); held-out prompts",
    temperatures: [0, 0.8],
    async prepare({ quick, cacheDir, log, backend }) {
        const modelPath = findStoriesModel();
        if (modelPath == null) throw new Error("stories260K.gguf is missing: set PRESAGE_MODELS_DIR or run npm run models:pull");
        log("# grounded: building or reusing the 500k-token corpus (about 4 minutes the first time, then cached)");
        const corpus = await buildGroundedCorpus({ modelPath, tokens: 500_000, temperature: 0.8, seed: 1, cacheDir });
        const key = createHash("sha256").update(corpus.text).digest("hex").slice(0, 12);
        const dir = join(cacheDir, `grounded-store-${key}`);
        const docs = join(dir, "docs");
        const dbPath = join(dir, "store.sqlite");
        if (!existsSync(dbPath)) {
            log("# grounded: indexing the corpus into a datastore (cached)");
            mkdirSync(docs, { recursive: true });
            const stories = corpus.text.split(storySeparator);
            // Many files of a few hundred stories, as a folder of notes would be.
            for (let i = 0; i < stories.length; i += 200) writeFileSync(join(docs, `stories-${i / 200}.txt`), stories.slice(i, i + 200).join("\n\n"));
            const datastore = Datastore.open(dbPath);
            const ingestor = await openIngestor({ datastore, modelPath });
            try {
                await ingestor.addSource(docs);
                await ingestor.scan();
            } finally {
                await ingestor.close();
                datastore.close();
            }
        }
        const prompts = await groundedHeldOutPrompts({ modelPath, count: quick ? 3 : 6, cacheDir, corpusText: corpus.text });
        const datastore = Datastore.open(dbPath);
        const engine = await PresageEngine.load({ modelPath, cacheDir, backend });
        const detach = attachDatastoreDrafters(engine, datastore);
        return {
            engine,
            prompts,
            maxTokens: 256,
            // As in the story workload: answers of a fifth of a second, ±10% apart on this VM.
            rounds: quick ? 2 : 5,
            rows: [
                { name: "retrieval", strategies: ["retrieval"] },
                { name: "ngram", strategies: ["ngram"] },
                { name: "auto", strategies: ["auto"] },
                { name: "oracle", strategies: [], oracle: true, maxDraft: 8 }
            ],
            notes: [`store: ${corpus.tokens} tokens in ${corpus.stories.length} stories`],
            extra: async () => {
                log("# datastore micro-benchmark (1M and 10M tokens)");
                const sizes = quick ? [1_000_000] : [1_000_000, 10_000_000];
                const results = [];
                for (const tokens of sizes) results.push(await runDatastoreBench({ tokens, modelPath, cacheDir }));
                const largest = results.at(-1)!;
                return {
                    datastore: {
                        buildMBps: largest.buildMBps,
                        bytesPerToken: largest.bytesPerToken,
                        lookupP50us: largest.lookupP50us,
                        lookupP99us: largest.lookupP99us,
                        tokens: largest.tokens,
                        runs: results.map((r) => ({ tokens: r.tokens, buildMBps: r.buildMBps, bytesPerToken: r.bytesPerToken, lookupP50us: r.lookupP50us, lookupP99us: r.lookupP99us }))
                    }
                };
            },
            dispose: async () => {
                detach();
                await engine.dispose();
                datastore.close();
            }
        };
    }
};
