import type { LlamaModel } from "node-llama-cpp";
import type { Datastore } from "../../datastore/datastore.ts";
import { HistoryIndex, modelTokenizer } from "../../datastore/history/history-index.ts";
import { SuffixMatchDrafter, type SuffixMatchDrafterOptions } from "./suffix-match-drafter.ts";

/**
 * Guesses from the user's past conversations: the same longest-suffix match as retrieval, over
 * the assistant's earlier answers. Answers recorded with `datastore.conversations.addMessage`
 * become searchable at once; the `history.enabled` setting turns it off, and
 * `datastore.conversations.clearHistory()` forgets them.
 *
 * Stateless and cheap to create; the `HistoryIndex` is shared and outlives the drafter unless the
 * drafter was made by `open`.
 */
export class HistoryDrafter extends SuffixMatchDrafter {
    constructor(index: HistoryIndex, options: SuffixMatchDrafterOptions = {}, owned = false) {
        super("history", index, options, owned ? index : undefined);
    }

    /** A drafter with its own history index, tokenized with the model's vocabulary. */
    static open(datastore: Datastore, model: LlamaModel, options: SuffixMatchDrafterOptions = {}): HistoryDrafter {
        return new HistoryDrafter(openHistoryIndex(datastore, model), options, true);
    }
}

/** The history index for a loaded model; it follows new answers, deletions and the on/off setting. */
export function openHistoryIndex(datastore: Datastore, model: LlamaModel): HistoryIndex {
    return HistoryIndex.open({ datastore, tokenizer: modelTokenizer(model) });
}
