import type { LlamaContextSequence, Token } from "node-llama-cpp";
import type { GenerateNextOptions } from "./sampling.ts";

/**
 * node-llama-cpp 3.21.1 internals this file reaches into. The package is pinned to that exact version;
 * `batch-evaluator.test.ts` fails if they move, and `BatchEvaluator` then falls back to the public API.
 */
interface SequenceInternals {
    _decodeTokens(tokens: Token[], logits: boolean[], priority: number, meter: unknown, shift: unknown, map: (batchLogitIndex: number) => number): Promise<number[]>;
    _resolveSamplerConfig(options: object): object;
    _tokenMeter: unknown;
    _contextShift: unknown;
    _context: { _ctx: { sampleToken(batchLogitIndex: number, sampler: AddonSampler): Promise<number> } };
    model: { _model: unknown; _llama: { _bindings: { AddonSampler: new (model: unknown) => AddonSampler } } };
}

interface AddonSampler {
    applyConfig(config: object): void;
    dispose(): void;
}

/**
 * Evaluates a batch and draws the requested tokens, with less per-step overhead than
 * `controlledEvaluate`: that call creates a sampler per batch and draws each position's token in turn,
 * one thread-pool round trip after another (~0.12 ms each here, more than the whole forward pass of a
 * tiny model). Here each batch position keeps its own sampler, configured only when its options change,
 * and all positions are drawn at once.
 */
export class BatchEvaluator {
    private readonly internals: SequenceInternals | null;
    private readonly samplers: { sampler: AddonSampler; options: GenerateNextOptions | null; seed: number | undefined }[] = [];

    constructor(private readonly sequence: LlamaContextSequence) {
        const s = sequence as unknown as SequenceInternals;
        const usable = typeof s._decodeTokens === "function" && typeof s._resolveSamplerConfig === "function"
            && typeof s._context?._ctx?.sampleToken === "function" && typeof s.model?._llama?._bindings?.AddonSampler === "function";
        this.internals = usable && process.env.PRESAGE_PUBLIC_EVALUATE !== "1" ? s : null;
    }

    /** Whether the fast path is in use (false: node-llama-cpp's public `controlledEvaluate`). */
    get fast(): boolean {
        return this.internals != null;
    }

    /**
     * Appends `tokens` to the sequence and returns, for each position with options, the token drawn
     * after it (null elsewhere).
     */
    async evaluate(tokens: readonly Token[], options: readonly (GenerateNextOptions | null)[], _guesses?: readonly Token[]): Promise<(Token | null)[]> {
        const s = this.internals;
        if (s == null) {
            const out = await this.sequence.controlledEvaluate(tokens.map((t, i) => (options[i] == null ? t : [t, { generateNext: options[i]! }])));
            return tokens.map((_, i) => out[i]?.next.token ?? null);
        }
        // Logits from the first requested row to the end of the batch: llama.cpp takes a slow path
        // (measured: 515 µs instead of 299 µs for two rows) when a row without logits follows one with.
        const first = options.findIndex((o) => o != null);
        const logits = options.map((_, i) => first >= 0 && i >= first);
        const indexes = await s._decodeTokens(tokens as Token[], logits, 5, s._tokenMeter, s._contextShift, (batchLogitIndex) => batchLogitIndex);
        const draws: Promise<number>[] = [];
        const at: number[] = [];
        for (let i = 0; i < tokens.length; i++) {
            const o = options[i];
            if (o == null) continue;
            const slot = this.samplerFor(draws.length, o);
            draws.push(s._context._ctx.sampleToken(indexes[i]!, slot));
            at.push(i);
        }
        const drawn = await Promise.all(draws);
        const out: (Token | null)[] = new Array(tokens.length).fill(null);
        for (let j = 0; j < at.length; j++) out[at[j]!] = drawn[j] === -1 ? null : (drawn[j] as Token);
        return out;
    }

    dispose(): void {
        for (const { sampler } of this.samplers) sampler.dispose();
        this.samplers.length = 0;
    }

    private samplerFor(slot: number, options: GenerateNextOptions): AddonSampler {
        const s = this.internals!;
        const create = () => new s.model._llama._bindings.AddonSampler(s.model._model);
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
            entry.sampler.applyConfig(s._resolveSamplerConfig(options.options!));
        } else if (entry.options !== options) {
            entry.sampler.applyConfig(s._resolveSamplerConfig(options.options ?? { temperature: 0 }));
        }
        entry.options = options;
        entry.seed = seed;
        return entry.sampler;
    }
}
