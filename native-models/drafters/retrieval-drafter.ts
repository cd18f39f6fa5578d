import { SuffixMatchDrafter, type ContinuationIndex, type SuffixMatchDrafterOptions } from "./suffix-match-drafter.ts";

/**
 * REST-style retrieval: guesses what follows the context from the user's documents. The longest
 * tail of the context (16 tokens down to 2) that occurs in the documents is looked up in the
 * in-memory suffix arrays, and the most frequent continuations are proposed, each token's
 * confidence being its count over the matches so far (smoothed, see the index's confidence).
 *
 * Stateless and cheap to create: the index (the datastore's documents index, handed in by the app)
 * is shared and outlives the drafter; `dispose` closes only what was passed as `owned`.
 */
export class RetrievalDrafter extends SuffixMatchDrafter {
    constructor(index: ContinuationIndex, options: SuffixMatchDrafterOptions = {}, owned?: { close(): void }) {
        super("retrieval", index, options, owned);
    }
}
