import type { Token } from "node-llama-cpp";

/** Where a guessed token came from; the UI colours accepted tokens by it. */
export type DraftSource = "draft" | "ngram" | "retrieval" | "history" | "early-exit" | "oracle";

/**
 * A guessed continuation of the current context.
 * `confidence[i]` is the drafter's own estimate that `tokens[i]` is right given that `tokens[0..i)` were:
 * a probability for a draft model, a smoothed count ratio for n-gram and retrieval sources.
 */
export interface Hypothesis {
    source: DraftSource;
    tokens: Token[];
    confidence: number[];
}

/**
 * A source of guesses. The decoder owns the token history; a drafter only reads it, when asked for
 * guesses: `history` always holds every token in the target's context (prompt and accepted output), and
 * a drafter brings whatever it keeps up to date from it then. Nothing is pushed to drafters step by step,
 * so steps that do not ask for guesses (a source backed off, a plain stretch) cost them nothing.
 */
export interface Drafter {
    readonly source: DraftSource;
    /** Start over from this history (a new prompt, a new turn, or after a truncation). */
    reset(history: readonly Token[]): void | Promise<void>;
    /**
     * Guesses for what follows `history`, each at most `maxTokens` long; none when there is nothing to
     * say. `minConfidence`, when given, is the least confidence of this drafter's that is worth a token
     * (hypothesis reduction learns what its confidences are worth): a drafter that pays for each token
     * it drafts stops below it.
     */
    propose(history: readonly Token[], maxTokens: number, minConfidence?: number): Hypothesis[] | Promise<Hypothesis[]>;
    dispose(): void | Promise<void>;
}
