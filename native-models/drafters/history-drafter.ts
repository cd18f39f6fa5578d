import type { LlamaModel, Token } from "node-llama-cpp";
import type { Datastore } from "../../datastore/datastore.ts";
import { HistoryIndex, modelTokenizer } from "../../datastore/history/history-index.ts";
import type { LookupOptions } from "../../datastore/index/suffix-lookup.ts";
import type { DraftSource, Drafter, Hypothesis } from "./drafter.ts";
import { continuationsToHypotheses, type SuffixMatchDrafterOptions } from "./retrieval-drafter.ts";

/**
 * Guesses from the user's past conversations: the same longest-suffix match as retrieval, over
 * the assistant's earlier answers. Answers recorded with `datastore.conversations.addMessage`
 * become searchable at once; the `history.enabled` setting turns it off, and
 * `datastore.conversations.clearHistory()` forgets them.
 *
 * Stateless and cheap to create; the `HistoryIndex` is shared and outlives the drafter unless the
 * drafter was made by `open`.
 */
export class HistoryDrafter implements Drafter {
    readonly source: DraftSource = "history";
    private readonly lookupOptions: LookupOptions;
    private readonly minConfidence: number;

    constructor(
        private readonly index: HistoryIndex,
        options: SuffixMatchDrafterOptions = {},
        private readonly owned = false
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

    /** A drafter with its own history index, tokenized with the model's vocabulary. */
    static open(datastore: Datastore, model: LlamaModel, options: SuffixMatchDrafterOptions = {}): HistoryDrafter {
        return new HistoryDrafter(openHistoryIndex(datastore, model), options, true);
    }

    reset(): void {}

    observe(): void {}

    propose(history: readonly Token[], maxTokens: number): Hypothesis[] {
        if (maxTokens <= 0 || history.length === 0) return [];
        return continuationsToHypotheses(this.index.find(history, { ...this.lookupOptions, maxTokens }), this.source, this.minConfidence);
    }

    dispose(): void {
        if (this.owned) this.index.close();
    }
}

/** The history index for a loaded model; it follows new answers, deletions and the on/off setting. */
export function openHistoryIndex(datastore: Datastore, model: LlamaModel): HistoryIndex {
    return HistoryIndex.open({ datastore, tokenizer: modelTokenizer(model) });
}
