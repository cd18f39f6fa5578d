import { createHash } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, statSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import type { LlamaModel, Token } from "node-llama-cpp";
import { presageCacheDir } from "../native-models/models-dir.ts";
import { getRuntime } from "../native-models/runtime/llama-runtime.ts";

/**
 * Text the model itself writes, for benchmarks where guesses come from a store of similar text
 * (the "grounded" workload, the datastore benchmark): many short stories sampled from the model
 * with fixed seeds, plus held-out stories from other seeds to prompt it with.
 */

export interface GroundedCorpusOptions {
    modelPath: string;
    /** Tokens to sample in all (default 500,000). */
    tokens?: number;
    /** Sampling temperature (default 0.8). */
    temperature?: number;
    /** Base seed (default 1); story i is sampled with a seed derived from it and i. */
    seed?: number;
    /** Where the corpus is cached (default `$PRESAGE_CACHE_DIR` or ~/.cache/presage): never the repository. */
    cacheDir?: string;
    /** Sequences sampled in parallel in one context (default 16). */
    sequences?: number;
    /** Longest story, in tokens (default 256). */
    maxStoryTokens?: number;
    log?: (line: string) => void;
}

export interface GroundedCorpus {
    /** The cache file: stories separated by `storySeparator`. */
    path: string;
    stories: string[];
    /** All stories joined by blank lines. */
    text: string;
    /** Tokens sampled (the model's tokens, before any re-tokenization). */
    tokens: number;
    fromCache: boolean;
}

export interface HeldOutOptions extends Omit<GroundedCorpusOptions, "tokens"> {
    /** How many stories (default 32). */
    count?: number;
    /** Tokens of each opening used as a prompt (default 24). */
    promptTokens?: number;
}

/** Separates stories in the cache files (a form feed on its own line: never sampled text). */
export const storySeparator = "\n\f\n";

/** Held-out story i uses seed slot `heldOutSlot + i`; the corpus uses slots from 0, so they never meet. */
const heldOutSlot = 1_000_000_000;
const cacheVersion = 1;

/** Seed of story slot `slot` for base seed `seed` (32-bit, well mixed). */
function storySeed(seed: number, slot: number): number {
    const h = createHash("sha256").update(`${seed}:${slot}`).digest();
    return h.readUInt32LE(0) & 0x7fffffff;
}

/** Names a model file by its size and a hash of its first megabyte (fast for big models too). */
function modelKey(modelPath: string): string {
    const size = statSync(modelPath).size;
    const fd = openSync(modelPath, "r");
    try {
        const head = Buffer.alloc(Math.min(size, 1 << 20));
        readSync(fd, head, 0, head.length, 0);
        return `${basename(modelPath)}:${size}:${createHash("sha256").update(head).digest("hex")}`;
    } finally {
        closeSync(fd);
    }
}

function cachePath(cacheDir: string, kind: string, key: object): string {
    const hash = createHash("sha256").update(JSON.stringify({ v: cacheVersion, ...key })).digest("hex").slice(0, 16);
    return join(cacheDir, `${kind}-${hash}.txt`);
}

function writeAtomically(path: string, text: string): void {
    mkdirSync(join(path, ".."), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, path);
}

/**
 * Samples stories for seed slots `first, first+1, ...` in parallel sequences of one context
 * (node-llama-cpp evaluates concurrent sequences in one batch), until `enough` says stop.
 * Each story is sampled with its slot's own seed, so which sequence ran it does not matter; the
 * logits can still differ in the last bits with the batch they were computed in, which can change
 * a sample now and then. The cache is what makes a corpus stable from run to run.
 */
async function sampleStories(
    model: LlamaModel,
    options: { first: number; seed: number; temperature: number; sequences: number; maxStoryTokens: number },
    enough: (done: Map<number, Token[]>) => boolean,
    log?: (line: string) => void
): Promise<Map<number, Token[]>> {
    const context = await model.createContext({
        sequences: options.sequences,
        contextSize: options.maxStoryTokens + 16,
        batchSize: Math.max(512, options.sequences * 4),
        threads: 1 // more threads are much slower on small models here (DESIGN.md)
    });
    const bos = model.tokens.bos;
    if (bos == null) throw new Error("The model has no BOS token to start stories from.");
    const done = new Map<number, Token[]>();
    let nextSlot = options.first;
    let stop = false;
    let produced = 0;
    let lastLog = Date.now();
    const started = Date.now();
    try {
        await Promise.all(
            Array.from({ length: options.sequences }, async () => {
                const sequence = context.getSequence();
                try {
                    while (!stop) {
                        const slot = nextSlot++;
                        await sequence.clearHistory();
                        const tokens: Token[] = [];
                        for await (const t of sequence.evaluate([bos], { temperature: options.temperature, seed: storySeed(options.seed, slot) })) {
                            if (model.isEogToken(t)) break;
                            tokens.push(t);
                            if (tokens.length >= options.maxStoryTokens) break;
                        }
                        done.set(slot, tokens);
                        produced += tokens.length;
                        if (enough(done)) stop = true;
                        if (log != null && Date.now() - lastLog > 5000) {
                            lastLog = Date.now();
                            log(`  sampled ${produced} tokens (${Math.round(produced / ((Date.now() - started) / 1000))} tokens/s)`);
                        }
                    }
                } finally {
                    sequence.dispose();
                }
            })
        );
    } finally {
        await context.dispose();
    }
    return done;
}

/** Stories in slot order from `first`, stopping at the first gap. */
function inOrder(done: Map<number, Token[]>, first: number): Token[][] {
    const out: Token[][] = [];
    for (let slot = first; done.has(slot); slot++) out.push(done.get(slot)!);
    return out;
}

async function loadModel(modelPath: string): Promise<LlamaModel> {
    const llama = await getRuntime({ backend: "cpu" });
    return llama.loadModel({ modelPath });
}

/**
 * Builds (once; then reads from the cache) a corpus of stories sampled from the model: story i
 * with its own fixed seed, kept in seed order up to the one that reaches the token budget.
 */
export async function buildGroundedCorpus(options: GroundedCorpusOptions): Promise<GroundedCorpus> {
    const { modelPath, tokens: budget = 500_000, temperature = 0.8, seed = 1, sequences = 16, maxStoryTokens = 256, log } = options;
    const cacheDir = options.cacheDir ?? presageCacheDir();
    const path = cachePath(cacheDir, "grounded", { model: modelKey(modelPath), budget, temperature, seed, maxStoryTokens });
    const metaPath = path.replace(/\.txt$/, ".json");
    if (existsSync(path) && existsSync(metaPath)) {
        const stories = readFileSync(path, "utf8").split(storySeparator);
        const meta = JSON.parse(readFileSync(metaPath, "utf8")) as { tokens: number };
        return { path, stories, text: stories.join("\n\n"), tokens: meta.tokens, fromCache: true };
    }
    log?.(`sampling a ${budget}-token grounded corpus from ${basename(modelPath)} (cached in ${path})`);
    const model = await loadModel(modelPath);
    try {
        const countInOrder = (done: Map<number, Token[]>) => {
            let n = 0;
            for (let slot = 0; done.has(slot); slot++) {
                n += done.get(slot)!.length;
                if (n >= budget) return true;
            }
            return false;
        };
        const done = await sampleStories(model, { first: 0, seed, temperature, sequences, maxStoryTokens }, countInOrder, log);
        const kept: Token[][] = [];
        let total = 0;
        for (const story of inOrder(done, 0)) {
            if (total >= budget) break;
            kept.push(story);
            total += story.length;
        }
        const stories = kept.map((t) => model.detokenize(t).trim()).filter((s) => s.length > 0);
        writeAtomically(path, stories.join(storySeparator));
        writeAtomically(metaPath, JSON.stringify({ tokens: total, stories: stories.length, temperature, seed, budget }));
        return { path, stories, text: stories.join("\n\n"), tokens: total, fromCache: false };
    } finally {
        await model.dispose();
    }
}

/**
 * Whole stories sampled like the corpus but from seed slots the corpus never uses (and, to be
 * sure, none whose opening occurs in `corpusText` when given). Cached like the corpus.
 */
export async function groundedHeldOutStories(options: HeldOutOptions & { corpusText?: string }): Promise<string[]> {
    const { modelPath, count = 32, temperature = 0.8, seed = 1, sequences = 16, maxStoryTokens = 256, log } = options;
    const cacheDir = options.cacheDir ?? presageCacheDir();
    const path = cachePath(cacheDir, "grounded-heldout", { model: modelKey(modelPath), count, temperature, seed, maxStoryTokens });
    let stories: string[];
    if (existsSync(path)) stories = readFileSync(path, "utf8").split(storySeparator);
    else {
        log?.(`sampling ${count} held-out stories from ${basename(modelPath)}`);
        const model = await loadModel(modelPath);
        try {
            // A few spare stories in case some are empty or too short to prompt with.
            const want = count + Math.ceil(count / 4) + 2;
            const done = await sampleStories(model, { first: heldOutSlot, seed, temperature, sequences: Math.min(sequences, want), maxStoryTokens }, (d) => d.size >= want, log);
            stories = inOrder(done, heldOutSlot)
                .filter((t) => t.length >= 48)
                .map((t) => model.detokenize(t).trim());
        } finally {
            await model.dispose();
        }
        writeAtomically(path, stories.join(storySeparator));
    }
    const corpus = options.corpusText;
    // Openings shared with the corpus (TinyStories style begins alike) are fine; whole stories are not.
    const disjoint = corpus == null ? stories : stories.filter((s) => !corpus.includes(s.slice(0, 200)));
    return disjoint.slice(0, count);
}

/**
 * Prompts for the grounded workload: the first `promptTokens` tokens (as text) of held-out stories.
 * Disjoint from the corpus: different seeds, and no held-out story's first 200 characters occur in it.
 */
export async function groundedHeldOutPrompts(options: HeldOutOptions & { corpusText?: string }): Promise<string[]> {
    const { promptTokens = 24 } = options;
    const stories = await groundedHeldOutStories(options);
    const llama = await getRuntime({ backend: "cpu" });
    const vocab = await llama.loadModel({ modelPath: options.modelPath, vocabOnly: true });
    try {
        return stories.map((s) => vocab.detokenize(vocab.tokenize(s, false).slice(0, promptTokens)));
    } finally {
        await vocab.dispose();
    }
}
