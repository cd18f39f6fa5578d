import type { Token } from "node-llama-cpp";
import type { DraftSource, Drafter, Hypothesis } from "./drafter.ts";

/** How far a continuation lookup searches and how much it returns. */
export interface ContinuationQuery {
    /** Longest context tail to match. */
    maxSpan?: number;
    /** Shortest context tail worth matching. */
    minSpan?: number;
    /** Longest continuation to return. */
    maxTokens?: number;
    /** How many continuations, each starting with a different token. */
    alternatives?: number;
    /** A continuation stops before a token whose confidence would be below this. */
    minConfidence?: number;
}

/** What followed the context in the indexed text, best continuation first. */
export interface ContinuationResult {
    continuations: readonly {
        tokens: readonly number[];
        /** `confidence[i]`: how likely `tokens[i]` follows, given `tokens[0..i)` did. */
        confidence: readonly number[];
    }[];
}

/**
 * What the engine asks of an index of earlier text: "what followed this context?" The datastore's
 * documents index and history index answer it (the app hands them in; the engine does not know the store).
 */
export interface ContinuationIndex {
    /** Continuations of the longest matching tail of `context`, or null when nothing matches. */
    find(context: ArrayLike<number>, options?: ContinuationQuery): ContinuationResult | null;
}

export interface SuffixMatchDrafterOptions {
    /** Longest context tail matched (default 16). */
    maxSpan?: number;
    /** Shortest context tail worth a guess (default 2). */
    minSpan?: number;
    /** Continuations returned, each starting with a different token (default 3). */
    alternatives?: number;
    /** A chain is cut before the first token whose own confidence is below this (default 0.05). */
    minConfidence?: number;
}

/** Turns lookup continuations into hypotheses, best first, cut where confidence gets too low. */
export function continuationsToHypotheses(result: ContinuationResult | null, source: DraftSource, minConfidence: number): Hypothesis[] {
    if (result == null) return [];
    const out: Hypothesis[] = [];
    for (const c of result.continuations) {
        let n = 0;
        while (n < c.tokens.length && c.confidence[n] >= minConfidence) n++;
        if (n > 0) out.push({ source, tokens: c.tokens.slice(0, n) as Token[], confidence: c.confidence.slice(0, n) });
    }
    return out;
}

/**
 * Guesses by longest-suffix match in an index of earlier text (documents, past answers): stateless and
 * cheap to create, over an index that is shared and outlives the drafter unless the drafter owns it.
 */
export class SuffixMatchDrafter implements Drafter {
    private readonly lookupOptions: ContinuationQuery;
    private readonly minConfidence: number;

    constructor(
        readonly source: DraftSource,
        private readonly index: ContinuationIndex,
        options: SuffixMatchDrafterOptions = {},
        private readonly owned?: { close(): void }
    ) {
        this.minConfidence = options.minConfidence ?? 0.05;
        this.lookupOptions = {
            maxSpan: options.maxSpan ?? 16,
            minSpan: options.minSpan ?? 2,
            alternatives: options.alternatives ?? 3,
            // Cut chains inside the lookup: reading past the cut would be wasted work.
            minConfidence: this.minConfidence
        };
    }

    reset(): void {}

    propose(history: readonly Token[], maxTokens: number): Hypothesis[] {
        if (maxTokens <= 0 || history.length === 0) return [];
        return continuationsToHypotheses(this.index.find(history, { ...this.lookupOptions, maxTokens }), this.source, this.minConfidence);
    }

    dispose(): void {
        this.owned?.close();
    }
}
