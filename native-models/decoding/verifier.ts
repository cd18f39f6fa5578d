import type { LlamaContextSequence, Token } from "node-llama-cpp";
import type { GenerateNextOptions, PositionSampler } from "./sampling.ts";
import { createSequenceEvaluator, type SequenceEvaluator } from "./sequence-evaluator.ts";

/** The outcome of one verification step. */
export interface Verdict {
    /** How many guessed tokens the target agreed with. */
    accepted: number;
    /** The accepted guesses followed by the target's own next token. */
    tokens: Token[];
}

export interface VerifierOptions {
    /**
     * Exact mode: every evaluation is a batch of at least two rows, so plain decoding and every
     * strategy run on one numeric path and agree token for token. llama.cpp's CPU kernels may round a
     * one-row batch differently from the rows of a larger one (stories260K: probabilities off by up to
     * 8e-4, enough to flip a near-tie); the padding costs most of a token per plain step on a small model.
     */
    exact?: boolean;
}

/**
 * Checks guesses against the target model on one context sequence: `[last, ...guesses]` in one batch,
 * the target's token drawn at each position until it disagrees with a guess, the rest erased.
 * A step with no guesses is a plain one-token decode, as in llama.cpp's own loop.
 */
export class Verifier {
    readonly evaluator: SequenceEvaluator;
    exact: boolean;

    constructor(readonly sequence: LlamaContextSequence, options: VerifierOptions = {}) {
        this.evaluator = createSequenceEvaluator(sequence);
        this.exact = options.exact ?? false;
    }

    /** Tokens currently in the KV cache. */
    get tokens(): readonly Token[] {
        return this.evaluator.tokens;
    }

    get contextSize(): number {
        return this.evaluator.contextSize;
    }

    /**
     * Makes the KV cache hold `tokens` minus the last one, reusing the longest common prefix, and draws
     * the token after the last one. Used for a new prompt or a new chat turn.
     */
    async prefill(tokens: readonly Token[], sampler: PositionSampler, position: number): Promise<Token> {
        if (tokens.length === 0) throw new Error("The prompt is empty: it needs at least one token.");
        const keep = commonPrefixLength(this.evaluator.tokens, tokens, tokens.length - 1);
        await this.evaluator.eraseFrom(keep);
        // A cache that could not keep its prefix started over.
        const rest = tokens.slice(this.evaluator.tokens.length);
        const pad = this.exact && rest.length === 1;
        const input = pad ? [rest[0]!, rest[0]!] : rest;
        const options: (GenerateNextOptions | null)[] = input.map(() => null);
        options[rest.length - 1] = sampler.at(position, tokens, tokens.length);
        await this.evaluator.decode(input, options, 1);
        const next = await this.evaluator.draw(rest.length - 1);
        if (pad) await this.evaluator.eraseFrom(tokens.length);
        if (next == null) throw new Error("llama.cpp returned no token for the prompt.");
        return next.token;
    }

    /**
     * Evaluates `pending` (the last drawn, not yet evaluated token) followed by `guesses`, and keeps the
     * longest prefix of the guesses that the target would have drawn itself.
     * `position` is the output position of the token after `pending`.
     */
    async verify(pending: Token, guesses: readonly Token[], sampler: PositionSampler, position: number): Promise<Verdict> {
        const k = guesses.length;
        const start = this.evaluator.tokens.length;
        // With a repeat penalty each position needs the tokens before it: only the penalty window of the
        // context, not a copy of the whole history every step.
        const window = sampler.historyWindow;
        const recent = window > 0 ? this.evaluator.tokens.slice(-window) : [];
        const context = window > 0 ? [...recent, pending, ...guesses] : undefined;
        const base = recent.length + 1;
        const pad = this.exact && k === 0;
        const input: Token[] = pad ? [pending, pending] : [pending, ...guesses];
        const options: (GenerateNextOptions | null)[] = new Array(input.length).fill(null);
        for (let i = 0; i <= k; i++) options[i] = sampler.at(position + i, context, base + i);
        // The first chunk's rows are drawn whatever the verdict: they may start right behind the batch.
        await this.evaluator.decode(input, options, Math.min(2, k + 1));

        // Draw rows in growing chunks, stopping at the first disagreement: one native round trip per
        // drawn row, and rows after a rejection are never drawn (each costs a pass over the vocabulary).
        const tokens: Token[] = [];
        let accepted = 0;
        let own: Token | null = null;
        for (let from = 0, chunk = 2; own == null; from += chunk, chunk *= 2) {
            const rows: Promise<Token | null>[] = [];
            for (let row = from; row < Math.min(from + chunk, k + 1); row++)
                rows.push(this.evaluator.draw(row).then((d) => d?.token ?? null));
            const drawn = await Promise.all(rows);
            for (const token of drawn) {
                if (token == null) throw new Error("llama.cpp returned no token for a verified position.");
                if (accepted < k && token === guesses[accepted]) {
                    tokens.push(token);
                    accepted++;
                    continue;
                }
                own = token;
                break;
            }
        }
        tokens.push(own);
        await this.evaluator.eraseFrom(start + 1 + accepted);
        return { accepted, tokens };
    }

    /** Drops everything after the first `length` tokens from the KV cache. */
    truncate(length: number): Promise<void> {
        return this.evaluator.eraseFrom(length);
    }

    /** Starts over with an empty KV cache. */
    clear(): Promise<void> {
        return this.evaluator.eraseFrom(0);
    }

    dispose(): void {
        this.evaluator.dispose();
    }
}

export function commonPrefixLength(a: readonly Token[], b: readonly Token[], limit = Infinity): number {
    const n = Math.min(a.length, b.length, limit);
    let i = 0;
    while (i < n && a[i] === b[i]) i++;
    return i;
}
