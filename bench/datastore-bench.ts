import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Datastore } from "../datastore/datastore.ts";
import { RetrievalIndex } from "../datastore/index/retrieval-index.ts";
import { openIngestor } from "../core/datastore-wiring.ts";
import { findStoriesModel } from "../native-models/models-dir.ts";
import { getRuntime } from "../native-models/runtime/llama-runtime.ts";
import { buildGroundedCorpus, groundedHeldOutStories } from "./grounded-corpus.ts";

export interface DatastoreBenchOptions {
    /** Tokens to index (1e6 or 1e7 in the reports). */
    tokens: number;
    /** Model whose vocabulary indexes the text (default: stories260K from the models folder). */
    modelPath?: string;
    /** Cache of the grounded corpus (see grounded-corpus.ts). */
    cacheDir?: string;
    /** Ingestion worker threads (default: the ingestor's choice). */
    workers?: number;
    /** Timed lookups (default 20,000). */
    lookups?: number;
    /** Base seed of the document generator (default 1). */
    seed?: number;
    /** Size of the grounded corpus the documents are recombined from (default 500,000 tokens). */
    corpusTokens?: number;
    log?: (line: string) => void;
}

export interface DatastoreBenchResult {
    /** Tokens in the index. */
    tokens: number;
    /** Text megabytes (10^6 bytes) per second, from the first file read to the last shard stored. */
    buildMBps: number;
    /** On-disk bytes of token streams + suffix arrays + shard tables (pages, as SQLite stores them) per token. */
    bytesPerToken: number;
    lookupP50us: number;
    lookupP99us: number;
    /** Details. */
    textMB: number;
    files: number;
    buildSeconds: number;
    /** Starting the workers (loading the vocabulary), not counted in buildMBps. */
    startSeconds: number;
    loadSeconds: number;
    shards: number;
    lookups: number;
    /** Lookups that found a continuation. */
    hitRate: number;
    /** Mean matched span over hits. */
    meanSpan: number;
}

/** Deterministic generator (mulberry32). */
function rng(seed: number): () => number {
    return () => {
        seed = (seed + 0x6d2b79f5) | 0;
        let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

const percentile = (sorted: Float64Array, p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

/**
 * Measures the personal store end to end on story text: writes documents built by recombining the
 * sentences of the grounded corpus (stories sampled from the model, so n-gram statistics are the
 * model's own) up to `tokens` tokens, indexes them with the real ingestion pipeline (workers,
 * tokenizer, SQLite, suffix arrays), then times lookups the way the retrieval drafter makes them:
 * the context at every position of held-out stories.
 */
export async function runDatastoreBench(options: DatastoreBenchOptions): Promise<DatastoreBenchResult> {
    const { tokens: target, lookups = 20_000, seed = 1, log = () => {} } = options;
    const modelPath = options.modelPath ?? findStoriesModel();
    if (modelPath == null) throw new Error("The datastore benchmark needs stories260K.gguf (set PRESAGE_MODELS_DIR).");
    const corpus = await buildGroundedCorpus({ modelPath, cacheDir: options.cacheDir, tokens: options.corpusTokens, log });
    const heldOut = await groundedHeldOutStories({ modelPath, cacheDir: options.cacheDir, count: 32, corpusText: corpus.text, log });

    const dir = mkdtempSync(join(tmpdir(), "presage-datastore-bench-"));
    try {
        // Documents: sentences of the corpus drawn at random, ~64 KB a file, until the text holds
        // about `target` tokens (at the corpus's own bytes-per-token ratio).
        const sentences = corpus.text.split(/(?<=[.!?])\s+/).filter((s) => s.length > 0);
        const bytesPerToken = Buffer.byteLength(corpus.text) / corpus.tokens;
        const wantBytes = Math.round(target * bytesPerToken);
        const random = rng(seed);
        const docs = join(dir, "docs");
        mkdirSync(docs);
        let written = 0;
        let files = 0;
        while (written < wantBytes) {
            const parts: string[] = [];
            let size = 0;
            while (size < 64_000 && written + size < wantBytes) {
                const s = sentences[Math.floor(random() * sentences.length)];
                parts.push(s);
                size += Buffer.byteLength(s) + 1;
                if (random() < 0.15) parts.push("\n");
            }
            const text = parts.join(" ");
            writeFileSync(join(docs, `doc-${String(files++).padStart(5, "0")}.txt`), text);
            written += Buffer.byteLength(text);
        }
        log(`datastore bench: ${files} files, ${(written / 1e6).toFixed(1)} MB of text`);

        const datastore = Datastore.open(join(dir, "store.db"));
        try {
            const startClock = performance.now();
            const ingestor = await openIngestor({ datastore, modelPath, workers: options.workers });
            const startSeconds = (performance.now() - startClock) / 1000;
            let report;
            try {
                const source = await ingestor.addSource(docs);
                report = await ingestor.scan({ sourceIds: [source.id] });
            } finally {
                await ingestor.close();
            }
            const tokenizerId = ingestor.tokenizer.id;
            log(`datastore bench: indexed ${report.tokens} tokens in ${report.seconds.toFixed(1)} s`);

            // Everything the index costs on disk, counted in SQLite pages (not blob lengths).
            const indexBytes = datastore.indexDiskBytes();

            const loadClock = performance.now();
            const index = RetrievalIndex.open(datastore, tokenizerId, { follow: false });
            const loadSeconds = (performance.now() - loadClock) / 1000;

            // Contexts as the drafter sees them: every prefix of every held-out story.
            const llama = await getRuntime({ backend: "cpu" });
            const vocab = await llama.loadModel({ modelPath, vocabOnly: true });
            const contexts: number[][] = [];
            try {
                for (const story of heldOut) {
                    const t = vocab.tokenize(story, false);
                    for (let i = 2; i <= t.length; i++) contexts.push(t.slice(Math.max(0, i - 16), i));
                }
            } finally {
                await vocab.dispose();
            }
            // The retrieval drafter's own options.
            const lookupOptions = { maxSpan: 16, minSpan: 2, maxTokens: 16, alternatives: 3, minConfidence: 0.05 };
            for (let i = 0; i < Math.min(2000, contexts.length); i++) index.find(contexts[i], lookupOptions); // warm-up (JIT)
            const times = new Float64Array(lookups);
            let hits = 0;
            let spanSum = 0;
            for (let i = 0; i < lookups; i++) {
                const context = contexts[i % contexts.length];
                const t0 = process.hrtime.bigint();
                const r = index.find(context, lookupOptions);
                times[i] = Number(process.hrtime.bigint() - t0) / 1000;
                if (r != null) {
                    hits++;
                    spanSum += r.span;
                }
            }
            times.sort();
            const result: DatastoreBenchResult = {
                tokens: index.tokenCount,
                buildMBps: written / 1e6 / report.seconds,
                bytesPerToken: indexBytes / index.tokenCount,
                lookupP50us: percentile(times, 0.5),
                lookupP99us: percentile(times, 0.99),
                textMB: written / 1e6,
                files,
                buildSeconds: report.seconds,
                startSeconds,
                loadSeconds,
                shards: index.shardCount,
                lookups,
                hitRate: hits / lookups,
                meanSpan: hits === 0 ? 0 : spanSum / hits
            };
            index.close();
            return result;
        } finally {
            datastore.close();
        }
    } finally {
        rmSync(dir, { recursive: true, force: true });
    }
}

// `npx tsx bench/datastore-bench.ts [tokens]` runs it on its own and prints the result as JSON.
if (import.meta.url === `file://${process.argv[1]}`) {
    const tokens = Number(process.argv[2] ?? 1_000_000);
    const result = await runDatastoreBench({ tokens, log: (line) => process.stderr.write(line + "\n") });
    process.stdout.write(JSON.stringify(result, null, 2) + "\n");
}
