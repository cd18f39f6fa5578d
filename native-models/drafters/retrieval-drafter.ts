import type { LlamaModel } from "node-llama-cpp";
import type { Datastore } from "../../datastore/datastore.ts";
import { RetrievalIndex } from "../../datastore/index/retrieval-index.ts";
import { tokenizerIdentity } from "../../datastore/tokenizer-identity.ts";
import { SuffixMatchDrafter, type ContinuationIndex, type SuffixMatchDrafterOptions } from "./suffix-match-drafter.ts";

/**
 * REST-style retrieval: guesses what follows the context from the user's documents. The longest
 * tail of the context (16 tokens down to 2) that occurs in the documents is looked up in the
 * in-memory suffix arrays, and the most frequent continuations are proposed, each token's
 * confidence being its count over the matches so far (smoothed, see `Continuation.confidence`).
 *
 * Stateless and cheap to create: the index is shared and outlives the drafter; `dispose` does not
 * close it unless the drafter was made by `open`.
 */
export class RetrievalDrafter extends SuffixMatchDrafter {
    constructor(index: ContinuationIndex, options: SuffixMatchDrafterOptions = {}, owned?: { close(): void }) {
        super("retrieval", index, options, owned);
    }

    /**
     * A drafter with its own index over the datastore's documents, for the model's tokenizer.
     * Prefer sharing one `RetrievalIndex` (see `openRetrievalIndex`) when drafters are made per request.
     */
    static open(datastore: Datastore, model: LlamaModel, options: SuffixMatchDrafterOptions = {}): RetrievalDrafter {
        const index = openRetrievalIndex(datastore, model);
        return new RetrievalDrafter(index, options, index);
    }
}

/**
 * Loads the documents' index for a loaded model's vocabulary (shards built for another tokenizer
 * are not used; the ingestor re-tokenizes for this one). It follows later indexing in this process.
 */
export function openRetrievalIndex(datastore: Datastore, model: LlamaModel): RetrievalIndex {
    return RetrievalIndex.open(datastore, tokenizerIdentity(model).id);
}
