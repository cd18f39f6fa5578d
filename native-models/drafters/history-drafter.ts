import { SuffixMatchDrafter, type ContinuationIndex, type SuffixMatchDrafterOptions } from "./suffix-match-drafter.ts";

/**
 * Guesses from the user's past conversations: the same longest-suffix match as retrieval, over
 * the assistant's earlier answers (the datastore's history index, handed in by the app, which
 * follows new answers, deletions and the `history.enabled` setting).
 *
 * Stateless and cheap to create; the index is shared and outlives the drafter; `dispose` closes
 * only what was passed as `owned`.
 */
export class HistoryDrafter extends SuffixMatchDrafter {
    constructor(index: ContinuationIndex, options: SuffixMatchDrafterOptions = {}, owned?: { close(): void }) {
        super("history", index, options, owned);
    }
}
