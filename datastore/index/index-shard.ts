import { buildSuffixArray, separatorFor, type TokenArray } from "./suffix-array.ts";

/**
 * One searchable piece of the retrieval index: a token stream (documents joined by separators)
 * and its suffix array. Everything here is plain typed-array arithmetic with no allocation, because
 * it runs inside every decoding step.
 */
export class IndexShard {
    /** The separator value of this shard's width. */
    readonly separator: number;
    /**
     * `bucketStart[t]..bucketStart[t+1]`: the suffixes that start with token t. Every search starts
     * inside its first token's bucket, which saves the first ~log2(vocabulary) steps of the binary
     * search, each a cache miss into arrays of tens of megabytes.
     */
    private readonly bucketStart: Int32Array;

    /**
     * @param id caller's name for the shard (the database row id for document shards)
     * @param tokens documents' tokens, each document followed by the separator
     * @param suffixes suffix array of `tokens` sorted to at least `depth` tokens, separators left out
     * @param depth how many leading tokens the suffix order respects: no lookup may read deeper
     */
    constructor(
        readonly id: number,
        readonly tokens: TokenArray,
        readonly suffixes: Int32Array,
        readonly depth: number
    ) {
        this.separator = separatorFor(tokens);
        // Suffixes are sorted by first token, so bucket starts are prefix sums of token counts:
        // one sequential pass over the stream, no suffix-array reads.
        let maxToken = -1;
        for (let i = 0; i < tokens.length; i++) {
            const t = tokens[i];
            if (t !== this.separator && t > maxToken) maxToken = t;
        }
        const start = new Int32Array(maxToken + 2);
        for (let i = 0; i < tokens.length; i++) {
            const t = tokens[i];
            if (t !== this.separator) start[t + 1]++;
        }
        for (let t = 0; t <= maxToken; t++) start[t + 1] += start[t];
        this.bucketStart = start;
    }

    /** Builds a shard from a ready token stream (sorting it here, on this thread). */
    static build(id: number, tokens: TokenArray, depth = 32): IndexShard {
        return new IndexShard(id, tokens, buildSuffixArray(tokens, { depth }), depth);
    }

    /** Real tokens in the shard (separators not counted). */
    get size(): number {
        return this.suffixes.length;
    }

    /** Compares the suffix at `position` with `query[from..from+span)`: <0, 0 or >0. */
    private compare(position: number, query: ArrayLike<number>, from: number, span: number): number {
        const tokens = this.tokens;
        for (let k = 0; k < span; k++) {
            const a = tokens[position + k];
            const b = query[from + k];
            // The stream always ends in a separator, which is larger than any query token, so the
            // loop stops before it could run off the end.
            if (a !== b) return a < b ? -1 : 1;
        }
        return 0;
    }

    /** The suffixes that start with `token`: [start, end). */
    bucketOf(token: number): [number, number] {
        const start = this.bucketStart;
        if (!(token >= 0 && token < start.length - 1)) {
            // Not in this shard: an empty range where the token would sort.
            const at = token < 0 ? 0 : this.suffixes.length;
            return [at, at];
        }
        return [start[token], start[token + 1]];
    }

    /** Index of the first suffix not less than the query (a match if `compare` there is 0). */
    lowerBound(query: ArrayLike<number>, from: number, span: number): number {
        const sa = this.suffixes;
        let [lo, hi] = this.bucketOf(query[from]);
        while (lo < hi) {
            const mid = (lo + hi) >>> 1;
            if (this.compare(sa[mid], query, from, span) < 0) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    /**
     * Index past the last suffix that starts with the query. Given `start` (its lower bound), it
     * gallops forward from there: most match sets are small, so this reads a few nearby entries
     * instead of bisecting the whole first-token bucket.
     */
    upperBound(query: ArrayLike<number>, from: number, span: number, start?: number): number {
        const sa = this.suffixes;
        const bucket = this.bucketOf(query[from]);
        let lo = bucket[0];
        let hi = bucket[1];
        if (start != null && start >= lo) {
            lo = start;
            let step = 1;
            while (lo + step < hi && this.compare(sa[lo + step], query, from, span) <= 0) {
                lo += step;
                step *= 2;
            }
            hi = Math.min(hi, lo + step);
        }
        while (lo < hi) {
            const mid = (lo + hi) >>> 1;
            if (this.compare(sa[mid], query, from, span) <= 0) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    /** Whether `query[from..from+span)` occurs anywhere in the shard. */
    contains(query: ArrayLike<number>, from: number, span: number): boolean {
        const at = this.lowerBound(query, from, span);
        return at < this.suffixes.length && this.compare(this.suffixes[at], query, from, span) === 0;
    }

    /** Stream, suffix-array and bucket bytes: what the shard costs in memory. */
    get byteLength(): number {
        return this.tokens.byteLength + this.suffixes.byteLength + this.bucketStart.byteLength;
    }
}
