import type { Token } from "node-llama-cpp";
import type { Drafter, Hypothesis } from "./drafter.ts";

export interface NgramDrafterOptions {
    /** Longest context looked up; shorter ones are the back-off. */
    maxOrder?: number;
    /** Shortest context trusted on its own (1 = a bigram table). */
    minOrder?: number;
    /** The chain stops where the estimated confidence falls below this. */
    minConfidence?: number;
}

/** Successor counts of one context. */
interface Successors {
    counts: Map<Token, number>;
    total: number;
    best: Token;
    bestCount: number;
}

// Keys stay below 2^53 so the rolling hash is exact in doubles: h < 2^36 and h * 131071 < 2^53.
const hashModulus = 68_719_476_731;

/**
 * ANPD's adaptive multi-level n-gram: one successor table per context length, built over the prompt and
 * every accepted token (brought up to date when asked for guesses), so a conversation that repeats itself (code, names, quoted text) is
 * guessed from its own words. Lookup goes from the longest context down (back-off); each guessed token
 * extends the context of the next one, giving a chain.
 */
export class NgramDrafter implements Drafter {
    readonly source = "ngram" as const;
    private readonly maxOrder: number;
    private readonly minOrder: number;
    private readonly minConfidence: number;
    private tables: Map<number, Successors>[] = [];
    /** How many history tokens have been added to the tables. */
    private indexed = 0;

    constructor(options: NgramDrafterOptions = {}) {
        this.maxOrder = options.maxOrder ?? 4;
        this.minOrder = options.minOrder ?? 1;
        this.minConfidence = options.minConfidence ?? 0.05;
        this.reset();
    }

    // Indexing waits for the next proposal: while hypothesis reduction is not asking this drafter (it
    // did not pay on this text), keeping its tables current every step would cost a small model ~5%.
    reset(): void {
        this.tables = Array.from({ length: this.maxOrder + 1 }, () => new Map());
        this.indexed = 0;
    }

    propose(history: readonly Token[], maxTokens: number): Hypothesis[] {
        this.index(history);
        const tokens: Token[] = [];
        const confidence: number[] = [];
        // The context of each guess is the history followed by the guesses so far.
        const at = (i: number): Token => (i < history.length ? history[i]! : tokens[i - history.length]!);
        let survive = 1;
        while (tokens.length < maxTokens) {
            const end = history.length + tokens.length;
            let found: Successors | undefined;
            let order = Math.min(this.maxOrder, end);
            for (; order >= this.minOrder; order--) {
                found = this.tables[order]!.get(hashRange(at, end - order, end));
                if (found != null) break;
            }
            if (found == null) break;
            // Shrink single observations towards doubt: seen once is a coin flip, not a certainty.
            const p = (found.bestCount / (found.total + 1)) * (order === 1 ? 0.5 : 1);
            survive *= p;
            if (survive < this.minConfidence) break;
            tokens.push(found.best);
            confidence.push(p);
        }
        return tokens.length > 0 ? [{ source: this.source, tokens, confidence }] : [];
    }

    dispose(): void {
        this.tables = [];
    }

    private index(history: readonly Token[]): void {
        if (history.length < this.indexed) this.reset();
        const at = (i: number): Token => history[i]!;
        for (let end = Math.max(this.indexed, 1); end < history.length; end++) {
            const next = history[end]!;
            for (let order = this.minOrder; order <= this.maxOrder && order <= end; order++) {
                const key = hashRange(at, end - order, end);
                const table = this.tables[order]!;
                let s = table.get(key);
                if (s == null) {
                    s = { counts: new Map(), total: 0, best: next, bestCount: 0 };
                    table.set(key, s);
                }
                const count = (s.counts.get(next) ?? 0) + 1;
                s.counts.set(next, count);
                s.total++;
                // Ties go to the most recent successor: recent text predicts the next words better.
                if (count >= s.bestCount) {
                    s.best = next;
                    s.bestCount = count;
                }
            }
        }
        this.indexed = Math.max(this.indexed, history.length);
    }
}

function hashRange(at: (i: number) => Token, start: number, end: number): number {
    let h = end - start;
    for (let i = start; i < end; i++) h = (h * 131071 + at(i) + 1) % hashModulus;
    return h;
}
