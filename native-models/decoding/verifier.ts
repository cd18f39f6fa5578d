import type { LlamaContextSequence, Token } from "node-llama-cpp";
import { BatchEvaluator } from "./batch-evaluator.ts";
import type { GenerateNextOptions, PositionSampler } from "./sampling.ts";

/** The outcome of one verification step. */
export interface Verdict {
    /** How many guessed tokens the target agreed with. */
    accepted: number;
    /** The accepted guesses followed by the target's own next token. */
    tokens: Token[];
}

/**
 * Checks guesses against the target model on one context sequence: `[last, ...guesses]` in one batch,
 * the target's token drawn at every position, the longest agreeing prefix kept, the rest erased.
 *
 * Every evaluation is a batch of at least two tokens. llama.cpp's CPU kernels give bit-identical rows
 * for any batch of 2..n tokens but a different rounding for a batch of one (measured on stories260K:
 * probabilities off by up to 8e-4, enough to flip near-ties). Padding single-token steps keeps every
 * strategy, and plain decoding, on one numeric path, so "identical to plain" is a guarantee rather than
 * a likelihood.
 */
export class Verifier {
    /** Tokens in the sequence's KV cache, mirrored here to avoid copying `contextTokens` every step. */
    private readonly evaluated: Token[] = [];

    private readonly evaluator: BatchEvaluator;

    constructor(readonly sequence: LlamaContextSequence) {
        this.evaluator = new BatchEvaluator(sequence);
    }

    /** Tokens currently in the KV cache. */
    get tokens(): readonly Token[] {
        return this.evaluated;
    }

    get contextSize(): number {
        return this.sequence.contextSize;
    }

    /**
     * Makes the KV cache hold `tokens` minus the last one, reusing the longest common prefix, and draws
     * the token after the last one. Used for a new prompt or a new chat turn.
     */
    async prefill(tokens: readonly Token[], sampler: PositionSampler, position: number): Promise<Token> {
        if (tokens.length === 0) throw new Error("The prompt is empty: it needs at least one token.");
        const keep = commonPrefixLength(this.evaluated, tokens, tokens.length - 1);
        await this.truncate(keep);
        const rest = tokens.slice(keep);
        const last = rest.length - 1;
        const pad = rest.length === 1;
        const input = pad ? [rest[0]!, rest[0]!] : rest;
        const options: (GenerateNextOptions | null)[] = input.map(() => null);
        options[last] = sampler.at(position, tokens, tokens.length);
        const out = await this.evaluator.evaluate(input, options);
        this.evaluated.push(...input);
        if (pad) await this.eraseLast(1, false);
        const next = out[last];
        if (next == null) throw new Error("llama.cpp returned no token for the prompt.");
        return next;
    }

    /**
     * Evaluates `pending` (the last drawn, not yet evaluated token) followed by `guesses`, and keeps the
     * longest prefix of the guesses that the target would have drawn itself.
     * `position` is the output position of the token after `pending`.
     */
    async verify(pending: Token, guesses: readonly Token[], sampler: PositionSampler, position: number): Promise<Verdict> {
        const k = guesses.length;
        // With a repeat penalty each position needs the tokens before it: only the penalty window of the
        // context, not a copy of the whole history every step.
        const window = sampler.historyWindow;
        const recent = window > 0 ? this.evaluated.slice(-window) : [];
        const context = window > 0 ? [...recent, pending, ...guesses] : undefined;
        const base = recent.length + 1;
        const input: Token[] = k === 0 ? [pending, pending] : [pending, ...guesses];
        const options: (GenerateNextOptions | null)[] = new Array(input.length).fill(null);
        options[0] = sampler.at(position, context, base);
        for (let i = 0; i < k; i++) options[i + 1] = sampler.at(position + i + 1, context, base + i + 1);

        const out = await this.evaluator.evaluate(input, options, guesses);
        this.evaluated.push(...input);

        const tokens: Token[] = [];
        let accepted = 0;
        for (; accepted < k; accepted++) {
            const drawn = out[accepted];
            if (drawn !== guesses[accepted]) break;
            tokens.push(drawn);
        }
        const own = out[accepted];
        if (own == null) throw new Error("llama.cpp returned no token for a verified position.");
        tokens.push(own);
        const rejected = k === 0 ? 1 : k - accepted;
        if (rejected > 0) await this.eraseLast(rejected, false);
        return { accepted, tokens };
    }

    /** Drops everything after the first `length` tokens from the KV cache. */
    async truncate(length: number): Promise<void> {
        if (length < this.evaluated.length) await this.eraseLast(this.evaluated.length - length, true);
    }

    /** Starts over with an empty KV cache. */
    async clear(): Promise<void> {
        await this.sequence.clearHistory();
        this.evaluated.length = 0;
    }

    private async eraseLast(count: number, resync: boolean): Promise<void> {
        const end = this.sequence.nextTokenIndex;
        await this.sequence.eraseContextTokenRanges([{ start: end - count, end }]);
        this.evaluated.length -= count;
        if (resync && this.sequence.nextTokenIndex !== this.evaluated.length) {
            this.evaluated.length = 0;
            this.evaluated.push(...this.sequence.contextTokens);
        }
    }
}

export function commonPrefixLength(a: readonly Token[], b: readonly Token[], limit = Infinity): number {
    const n = Math.min(a.length, b.length, limit);
    let i = 0;
    while (i < n && a[i] === b[i]) i++;
    return i;
}
