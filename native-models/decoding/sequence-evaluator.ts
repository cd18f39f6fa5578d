import type { LlamaContextSequence, Token } from "node-llama-cpp";
import type { GenerateNextOptions } from "./sampling.ts";

/** What one chunk of a long prompt's evaluation may take, so the pool thread is free again soon. */
const chunkMs = 50;

/** A token drawn after a batch row, with the model's probability of it when that was asked for. */
export interface Draw {
    token: Token;
    confidence?: number;
}

/**
 * One context sequence's KV cache, driven a batch at a time: append tokens, draw the token after any
 * row of the last batch, erase a tail. The verifier and the draft-model drafter are written against
 * this, so the fast native path and node-llama-cpp's public API are interchangeable.
 */
export interface SequenceEvaluator {
    /** Tokens in the KV cache. */
    readonly tokens: readonly Token[];
    readonly contextSize: number;
    /** Whether the native path is in use (false: node-llama-cpp's public `controlledEvaluate`). */
    readonly native: boolean;
    /**
     * Appends `tokens`; `options[i]` (null: no draw) is how the token after row i will be drawn.
     * Rows are drawn afterwards, only those asked for, with `draw`. `drawNow` rows, counted from the
     * first row with options, will certainly be drawn: an evaluator may start drawing them at once.
     */
    decode(tokens: readonly Token[], options: readonly (GenerateNextOptions | null)[], drawNow?: number): Promise<void>;
    /** The token after row `row` of the last `decode`; null when llama.cpp drew none (an empty candidate set). */
    draw(row: number): Promise<Draw | null>;
    /** Drops every token from `position` on. */
    eraseFrom(position: number): Promise<void>;
    /** llama.cpp threads for the next batches of `rows` rows (the fastest count differs with batch size). */
    setThreadsFor?(threadsForRows: (rows: number) => number): void;
    dispose(): void;
}

/**
 * node-llama-cpp 3.21.1 internals the native evaluator reaches into. The package is pinned to that
 * exact version; `sequence-evaluator.test.ts` fails if they move, and `createSequenceEvaluator` falls
 * back to the public API.
 */
interface SequenceInternals {
    _sequenceId: number;
    _resolveSamplerConfig(options: object): object;
    _context: { _ctx: AddonContext; batchSize: number };
    model: { _model: unknown; _llama: { _bindings: { AddonSampler: new (model: unknown) => AddonSampler } } };
}

interface AddonContext {
    initBatch(size: number): void;
    addToBatch(sequenceId: number, firstTokenSequenceIndex: number, tokens: Uint32Array, logitIndexes: Uint32Array): Uint32Array;
    decodeBatch(): Promise<void>;
    sampleToken(batchLogitIndex: number, sampler: AddonSampler, probabilities: boolean, confidence: boolean): Promise<[number, unknown, number | undefined]>;
    sampleToken(batchLogitIndex: number, sampler: AddonSampler): Promise<number>;
    removeTokenCellsFromSequence(sequenceId: number, startPos: number, endPos: number): boolean;
    setThreads(threads: number): void;
    getThreads(): number;
}

interface AddonSampler {
    applyConfig(config: object): void;
    dispose(): void;
}

/** Milliseconds spent awaiting llama.cpp's decode and sample calls, process-wide: the benchmark compares the loop's wall time with it. */
export const nativeClock = { ms: 0 };

/**
 * Whether this process runs libuv's pool on one thread (set in the environment at launch, which is when
 * libuv reads it: the CLI, `npm start`, `npm test` and the packaged app all launch that way). Work
 * queued on a one-thread pool runs in the order it was queued, so a draw can be queued right behind
 * its batch and run as soon as the batch is done, without a round trip through the event loop in
 * between: that round trip was a tenth of a plain step on a small model. With more pool threads a
 * draw could run beside its batch, so nothing is queued early then.
 */
const onePoolThread = process.env.UV_THREADPOOL_SIZE === "1";

/** The fastest evaluator this node-llama-cpp allows for `sequence` (`PRESAGE_PUBLIC_EVALUATE=1` forces the public one). */
export function createSequenceEvaluator(sequence: LlamaContextSequence): SequenceEvaluator {
    return NativeSequenceEvaluator.usable(sequence) && process.env.PRESAGE_PUBLIC_EVALUATE !== "1"
        ? new NativeSequenceEvaluator(sequence)
        : new PublicSequenceEvaluator(sequence);
}

/**
 * Drives llama.cpp's context directly: one `decodeBatch` per batch and one `sampleToken` per drawn row,
 * each a single thread-pool round trip, and erasing is a synchronous cell removal. node-llama-cpp's
 * public path adds per call a lock, a batch scheduler tick, a sampler per call and bookkeeping; on a
 * small model that costs more than the forward pass (measured: 1.1–1.6 ms per drafted token against
 * ~0.2 ms in llama.cpp's own loop).
 *
 * The sequence then belongs to this evaluator alone: node-llama-cpp's record of its tokens is no longer
 * kept, so nothing else may evaluate on it, and its context must hold no other active sequence (the
 * engine creates one sequence per context). node-llama-cpp serializes a context's native calls under
 * its "context" lock; with one sequence and one caller awaiting each call in turn, no two calls on
 * this context ever overlap, which is what the lock protects.
 */
export class NativeSequenceEvaluator implements SequenceEvaluator {
    readonly native = true;
    private readonly s: SequenceInternals;
    private readonly evaluated: Token[] = [];
    private readonly samplers: { sampler: AddonSampler; options: GenerateNextOptions | null; seed: number | undefined }[] = [];
    /** The last batch: each row's batch logit index and draw options. */
    private rowLogit: Uint32Array = new Uint32Array(0);
    private rowOptions: readonly (GenerateNextOptions | null)[] = [];
    private rowFirstLogit = 0;
    private threadsForRows: ((rows: number) => number) | null = null;
    private currentThreads: number;
    /** Draws queued behind the last batch (see `onePoolThread`), by row, until `draw` takes them. */
    private early = new Map<number, Promise<Draw | null>>();

    static usable(sequence: LlamaContextSequence): boolean {
        const s = sequence as unknown as Partial<SequenceInternals>;
        const ctx = s._context?._ctx as Partial<AddonContext> | undefined;
        return typeof s._sequenceId === "number" && typeof s._resolveSamplerConfig === "function"
            && typeof ctx?.initBatch === "function" && typeof ctx.addToBatch === "function" && typeof ctx.decodeBatch === "function"
            && typeof ctx.sampleToken === "function" && typeof ctx.removeTokenCellsFromSequence === "function"
            && typeof ctx.setThreads === "function" && typeof s.model?._llama?._bindings?.AddonSampler === "function";
    }

    constructor(readonly sequence: LlamaContextSequence) {
        this.s = sequence as unknown as SequenceInternals;
        if (sequence.context.totalSequences !== 1)
            throw new Error("The native evaluator needs a context with exactly one sequence.");
        this.currentThreads = this.s._context._ctx.getThreads();
        // Whatever node-llama-cpp put in the cache is forgotten with its bookkeeping.
        this.s._context._ctx.removeTokenCellsFromSequence(this.s._sequenceId, 0, -1);
    }

    get tokens(): readonly Token[] {
        return this.evaluated;
    }

    get contextSize(): number {
        return this.sequence.contextSize;
    }

    setThreadsFor(threadsForRows: (rows: number) => number): void {
        this.threadsForRows = threadsForRows;
    }

    async decode(tokens: readonly Token[], options: readonly (GenerateNextOptions | null)[], drawNow = 0): Promise<void> {
        if (tokens.length === 0) throw new Error("Nothing to decode.");
        await this.settleEarlyDraws();
        if (this.evaluated.length + tokens.length > this.contextSize)
            throw new Error(`The context is full: ${this.evaluated.length + tokens.length} tokens do not fit in ${this.contextSize}.`);
        const ctx = this.s._context._ctx;
        const batchSize = this.s._context.batchSize;
        // Logits from the first drawn row to the end of the batch: llama.cpp takes a slow path
        // (measured: 515 µs instead of 299 µs for two rows) when a row without logits follows one with.
        let first = options.findIndex((o) => o != null);
        if (first < 0) first = tokens.length;
        // Prompts longer than a batch go in chunks; only the last chunk may need logits. A chunk holds
        // libuv's one pool thread for its whole decode, and every file read of the process (a request
        // listing the models folder) waits behind it: deep in a context a 512-token chunk of
        // stories260K took over a second, so chunks are sized to take about `chunkMs` each.
        let start = 0;
        let size = Math.min(batchSize, 64);
        while (tokens.length - start > size) {
            if (first < start + size) first = start + size;
            const t = performance.now();
            await this.decodeChunk(ctx, tokens.slice(start, start + size), new Uint32Array(0));
            const msPerToken = (performance.now() - t) / size;
            start += size;
            size = Math.max(16, Math.min(batchSize, Math.floor(chunkMs / Math.max(1e-3, msPerToken))));
        }
        const chunk = tokens.slice(start);
        const from = Math.max(0, first - start);
        const logitRows = new Uint32Array(Math.max(0, chunk.length - from));
        for (let i = 0; i < logitRows.length; i++) logitRows[i] = from + i;
        this.rowFirstLogit = start + from;
        this.rowOptions = options;
        const early = onePoolThread ? Math.min(drawNow, tokens.length - first) : 0;
        await this.decodeChunk(ctx, chunk, logitRows, (indexes) => {
            this.rowLogit = indexes;
            for (let row = first; row < first + early; row++)
                if (options[row] != null) this.early.set(row, this.sample(row));
        });
    }

    async draw(row: number): Promise<Draw | null> {
        const early = this.early.get(row);
        if (early != null) {
            this.early.delete(row);
            const t = performance.now();
            try {
                return await early;
            } finally {
                nativeClock.ms += performance.now() - t;
            }
        }
        const t = performance.now();
        try {
            return await this.sample(row);
        } finally {
            nativeClock.ms += performance.now() - t;
        }
    }

    private async sample(row: number): Promise<Draw | null> {
        const options = this.rowOptions[row];
        const index = this.rowLogit[row - this.rowFirstLogit];
        if (options == null || index == null) throw new Error(`Row ${row} of the last batch has no logits to draw from.`);
        const ctx = this.s._context._ctx;
        const sampler = this.samplerFor(row, options);
        if (options.confidence) {
            const [token, , confidence] = await ctx.sampleToken(index, sampler, false, true);
            return token === -1 ? null : { token: token as Token, confidence };
        }
        const token = await ctx.sampleToken(index, sampler);
        return token === -1 ? null : { token: token as Token };
    }

    /**
     * Waits for draws queued early and never taken (a caller that stopped at a rejection): nothing may
     * touch the context or reconfigure their samplers while they run.
     */
    private async settleEarlyDraws(): Promise<void> {
        if (this.early.size === 0) return;
        const pending = [...this.early.values()];
        this.early.clear();
        await Promise.allSettled(pending);
    }

    async eraseFrom(position: number): Promise<void> {
        await this.settleEarlyDraws();
        if (position >= this.evaluated.length) return;
        const ctx = this.s._context._ctx;
        if (!ctx.removeTokenCellsFromSequence(this.s._sequenceId, position, this.evaluated.length)) {
            // Some caches (recurrent models) cannot drop a tail: start over, the caller re-evaluates.
            ctx.removeTokenCellsFromSequence(this.s._sequenceId, 0, -1);
            this.evaluated.length = 0;
            return;
        }
        this.evaluated.length = position;
    }

    dispose(): void {
        for (const { sampler } of this.samplers) sampler.dispose();
        this.samplers.length = 0;
    }

    /** `queueBehind` runs right after the batch is queued (with its logit indexes): pool work it queues runs after the batch. */
    private async decodeChunk(ctx: AddonContext, tokens: readonly Token[], logitRows: Uint32Array, queueBehind?: (indexes: Uint32Array) => void): Promise<void> {
        const threads = this.threadsForRows?.(tokens.length);
        if (threads != null && threads !== this.currentThreads) {
            ctx.setThreads(threads);
            this.currentThreads = threads;
        }
        ctx.initBatch(tokens.length);
        const indexes = ctx.addToBatch(this.s._sequenceId, this.evaluated.length, Uint32Array.from(tokens), logitRows);
        const t = performance.now();
        const decoding = ctx.decodeBatch();
        queueBehind?.(indexes);
        try {
            await decoding;
        } catch (err) {
            // Draws queued behind a failed batch would read stale logits: drop them.
            await this.settleEarlyDraws();
            throw err;
        } finally {
            nativeClock.ms += performance.now() - t;
        }
        for (const t of tokens) this.evaluated.push(t);
    }

    private samplerFor(slot: number, options: GenerateNextOptions): AddonSampler {
        const create = () => new this.s.model._llama._bindings.AddonSampler(this.s.model._model);
        while (this.samplers.length <= slot) this.samplers.push({ sampler: create(), options: null, seed: undefined });
        const entry = this.samplers[slot]!;
        const seed = options.options?.temperature ? options.options.seed : undefined;
        if (seed != null) {
            // Every sampled draw is a function of (seed, position) alone. The native sampler re-seeds
            // only when the seed changes, so drawing with the seed it already holds (a rejected position
            // drawn again) would continue its old random stream: start from a fresh sampler instead.
            if (seed === entry.seed) {
                entry.sampler.dispose();
                entry.sampler = create();
            }
            entry.sampler.applyConfig(this.s._resolveSamplerConfig(options.options!));
        } else if (entry.options !== options) {
            entry.sampler.applyConfig(this.s._resolveSamplerConfig(options.options ?? { temperature: 0 }));
        }
        entry.options = options;
        entry.seed = seed;
        return entry.sampler;
    }
}

/**
 * node-llama-cpp's public API: `controlledEvaluate` draws every requested row as it decodes, and
 * `eraseContextTokenRanges` drops the tail. Slower per step; kept so the engine still works if the
 * internals above move, and run in CI (`PRESAGE_PUBLIC_EVALUATE=1`) so that stays true.
 */
export class PublicSequenceEvaluator implements SequenceEvaluator {
    readonly native = false;
    private readonly evaluated: Token[] = [];
    private drawn: (Draw | null)[] = [];

    constructor(readonly sequence: LlamaContextSequence) {
        this.evaluated.push(...sequence.contextTokens);
    }

    get tokens(): readonly Token[] {
        return this.evaluated;
    }

    get contextSize(): number {
        return this.sequence.contextSize;
    }

    async decode(tokens: readonly Token[], options: readonly (GenerateNextOptions | null)[]): Promise<void> {
        const out = await this.sequence.controlledEvaluate(tokens.map((t, i) => (options[i] == null ? t : [t, { generateNext: options[i]! }])));
        this.evaluated.push(...tokens);
        this.drawn = tokens.map((_, i) => {
            const next = out[i]?.next;
            return next?.token == null ? null : { token: next.token, confidence: next.confidence };
        });
    }

    async draw(row: number): Promise<Draw | null> {
        return this.drawn[row] ?? null;
    }

    async eraseFrom(position: number): Promise<void> {
        if (position >= this.evaluated.length) return;
        await this.sequence.eraseContextTokenRanges([{ start: position, end: this.sequence.nextTokenIndex }]);
        this.evaluated.length = 0;
        this.evaluated.push(...this.sequence.contextTokens);
    }

    dispose(): void {}
}
