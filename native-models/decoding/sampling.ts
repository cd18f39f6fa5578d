import type { ControlledEvaluateInputItem, Token } from "node-llama-cpp";

/** The user's sampler. `temperature: 0` is greedy decoding. */
export interface SamplingOptions {
    temperature?: number;
    topK?: number;
    topP?: number;
    minP?: number;
    /** Penalises tokens seen in the last `lastTokens` tokens of the context (1 = off). */
    repeatPenalty?: { penalty?: number; frequencyPenalty?: number; presencePenalty?: number; lastTokens?: number };
    /** Makes sampled output reproducible; a random seed is drawn when omitted. */
    seed?: number;
}

/** llama.cpp's options for drawing one token, as `controlledEvaluate` takes them. */
export type GenerateNextOptions = NonNullable<Extract<ControlledEvaluateInputItem, unknown[]>[1]["generateNext"]>;

/**
 * Turns the user's sampler into llama.cpp's per-position options.
 *
 * The seed of the draw at output position `p` is a hash of (seed, p), not the next value of a stream.
 * So the token sampled at a position depends only on the tokens before it and on `p` — never on how
 * many guesses were verified before it. That is what makes speculative sampled output equal, token for
 * token, to plain sampled output with the same seed (and so follow the same distribution).
 */
export class PositionSampler {
    readonly greedy: boolean;
    readonly seed: number;
    private readonly options: SamplingOptions;
    private readonly penaltyWindow: number;

    constructor(options: SamplingOptions = {}) {
        this.options = options;
        this.greedy = (options.temperature ?? 0) <= 0;
        this.seed = options.seed ?? Math.floor(Math.random() * 0xffffffff);
        const penalty = options.repeatPenalty;
        const active = penalty != null && ((penalty.penalty ?? 1) !== 1 || (penalty.frequencyPenalty ?? 0) !== 0 || (penalty.presencePenalty ?? 0) !== 0);
        this.penaltyWindow = active ? Math.max(1, penalty.lastTokens ?? 64) : 0;
    }

    /** How many tokens before a position its options depend on (the repeat-penalty window; 0 = none). */
    get historyWindow(): number {
        return this.penaltyWindow;
    }

    /**
     * Options for drawing the token at output position `position`.
     * `context` and `contextEnd` give the tokens before it (only read when a repeat penalty is on).
     */
    at(position: number, context?: readonly Token[], contextEnd?: number): GenerateNextOptions {
        if (this.greedy && this.penaltyWindow === 0) return greedyNext;
        const o = this.options;
        const penalty = this.penaltyWindow === 0 || context == null
            ? undefined
            : {
                punishTokens: context.slice(Math.max(0, (contextEnd ?? context.length) - this.penaltyWindow), contextEnd ?? context.length) as Token[],
                maxPunishTokens: this.penaltyWindow,
                penalty: o.repeatPenalty?.penalty,
                frequencyPenalty: o.repeatPenalty?.frequencyPenalty,
                presencePenalty: o.repeatPenalty?.presencePenalty
            };
        return {
            token: true,
            options: {
                temperature: this.greedy ? 0 : o.temperature,
                topK: o.topK ?? 40,
                topP: o.topP ?? 0.95,
                minP: o.minP ?? 0,
                seed: positionSeed(this.seed, position),
                repeatPenalty: penalty
            }
        };
    }
}

const greedyNext: GenerateNextOptions = { token: true };

/** A 31-bit hash of (seed, position): splitmix-style mixing so neighbouring positions are unrelated. */
export function positionSeed(seed: number, position: number): number {
    let h = (Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(position + 1, 0x85ebca77)) >>> 0;
    h = Math.imul(h ^ (h >>> 16), 0x21f0aaad) >>> 0;
    h = Math.imul(h ^ (h >>> 15), 0x735a2d97) >>> 0;
    return (h ^ (h >>> 15)) & 0x7fffffff;
}
