import type { LlamaModel, Token } from "node-llama-cpp";
import type { Datastore } from "../../datastore/datastore.ts";
import { RetrievalIndex } from "../../datastore/index/retrieval-index.ts";
import type { LookupOptions, LookupResult } from "../../datastore/index/suffix-lookup.ts";
import { tokenizerIdentity } from "../../datastore/tokenizer-identity.ts";
import type { DraftSource, Drafter, Hypothesis } from "./drafter.ts";

/** Anything that answers longest-suffix-match lookups (the documents' index, the history index). */
export interface ContinuationIndex {
    find(context: ArrayLike<number>, options?: LookupOptions): LookupResult | null;
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
export function continuationsToHypotheses(result: LookupResult | null, source: DraftSource, minConfidence: number): Hypothesis[] {
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
 * REST-style retrieval: guesses what follows the context from the user's documents. The longest
 * tail of the context (16 tokens down to 2) that occurs in the documents is looked up in the
 * in-memory suffix arrays, and the most frequent continuations are proposed, each token's
 * confidence being its count over the matches so far (smoothed, see `Continuation.confidence`).
 *
 * Stateless and cheap to create: the index is shared and outlives the drafter; `dispose` does not
 * close it unless the drafter was made by `open`.
 */
export class RetrievalDrafter implements Drafter {
    readonly source: DraftSource = "retrieval";
    private readonly lookupOptions: LookupOptions;
    private readonly minConfidence: number;

    constructor(
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

    /**
     * A drafter with its own index over the datastore's documents, for the model's tokenizer.
     * Prefer sharing one `RetrievalIndex` (see `openRetrievalIndex`) when drafters are made per request.
     */
    static open(datastore: Datastore, model: LlamaModel, options: SuffixMatchDrafterOptions = {}): RetrievalDrafter {
        const index = openRetrievalIndex(datastore, model);
        return new RetrievalDrafter(index, options, index);
    }

    reset(): void {}

    observe(): void {}

    propose(history: readonly Token[], maxTokens: number): Hypothesis[] {
        if (maxTokens <= 0 || history.length === 0) return [];
        return continuationsToHypotheses(this.index.find(history, { ...this.lookupOptions, maxTokens }), this.source, this.minConfidence);
    }

    dispose(): void {
        this.owned?.close();
    }
}

/**
 * Loads the documents' index for a loaded model's vocabulary (shards built for another tokenizer
 * are not used; the ingestor re-tokenizes for this one). It follows later indexing in this process.
 */
export function openRetrievalIndex(datastore: Datastore, model: LlamaModel): RetrievalIndex {
    return RetrievalIndex.open(datastore, tokenizerIdentity(model).id);
}
