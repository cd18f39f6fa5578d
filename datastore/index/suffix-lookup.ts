import type { IndexShard } from "./index-shard.ts";

export interface LookupOptions {
    /** Longest context suffix to match (default 16). */
    maxSpan?: number;
    /** Shortest context suffix worth matching (default 2): one token predicts too little. */
    minSpan?: number;
    /** Longest continuation to return (default 16). */
    maxTokens?: number;
    /** How many continuations, each starting with a different token (default 3). */
    alternatives?: number;
    /** A continuation stops before a token whose confidence would be below this (default 0). */
    minConfidence?: number;
}

/** A continuation found after the matched context, the most frequent next token at every step. */
export interface Continuation {
    tokens: number[];
    /**
     * `counts[i]`: how many matches continue with `tokens[0..i]` — exact when the span has at most
     * `exactMatchLimit` matches, else estimated from an evenly spread sample of them.
     */
    counts: number[];
    /**
     * `confidence[i]`: a smoothed estimate that `tokens[i]` follows given `tokens[0..i)` did:
     * `c[i] / (c[i-1] + k)` over the (sampled) matches, `c[-1]` being all of them, where the
     * pseudo-count `k = 2 / matchedLength` shrinks as the match grows: one occurrence after a
     * 2-token match is a coin toss, one after a 16-token match is almost surely a recitation.
     */
    confidence: number[];
}

export interface LookupResult {
    /** How many trailing context tokens matched (the longest span with any match). */
    span: number;
    /** Occurrences of that span across all shards. */
    matches: number;
    /** Best first, at most `alternatives`, each starting with a different token. */
    continuations: Continuation[];
}

/**
 * Up to this many matches are all read; above it, this many evenly spaced ones. Matches of a span
 * sit in one suffix-array range per shard, sorted by what follows them, so evenly spaced picks
 * are a sample stratified by continuation: a continuation holding a share f of the matches gets
 * f·limit picks, give or take one. Bounding the reads bounds the lookup's time (each read is a
 * cache miss into arrays of tens of megabytes) whatever the text.
 */
export const exactMatchLimit = 32;

/**
 * Longest-suffix-match lookup over a set of shards (REST's retrieval step): find the longest tail
 * of the context (maxSpan down to minSpan) that occurs in the shards, then read what followed it.
 * No SQL, and only small allocations: it runs in every decoding step.
 */
export class SuffixLookup {
    private shardList: IndexShard[];
    // Scratch space for the sampled continuations: row i holds the tokens after match i.
    private rows = new Int32Array(exactMatchLimit * 32);
    private readonly rowLength = new Int32Array(exactMatchLimit);
    private order = new Int32Array(exactMatchLimit);
    // The previous lookup's context tail and an upper bound of its longest match, for `spanBound`.
    // A fact about the shards, not about the caller: any context ending with this tail matches at
    // most that long, whatever came before.
    private lastTail: number[] = [];
    private lastSpan = -1;

    constructor(shards: readonly IndexShard[] = []) {
        this.shardList = [...shards];
    }

    get shards(): readonly IndexShard[] {
        return this.shardList;
    }

    /** Real tokens across all shards. */
    get size(): number {
        let total = 0;
        for (const s of this.shardList) total += s.size;
        return total;
    }

    /** Replaces the whole shard set (the caller built the new set off to the side). */
    setShards(shards: readonly IndexShard[]): void {
        this.shardList = [...shards];
        this.lastSpan = -1;
    }

    add(shard: IndexShard): void {
        this.shardList.push(shard);
        this.lastSpan = -1;
    }

    remove(id: number): void {
        this.shardList = this.shardList.filter((s) => s.id !== id);
        this.lastSpan = -1;
    }

    /** Continuations of `context`, or null when not even `minSpan` trailing tokens occur. */
    lookup(context: ArrayLike<number>, options: LookupOptions = {}): LookupResult | null {
        const { maxSpan = 16, minSpan = 2, maxTokens = 16, alternatives = 3, minConfidence = 0 } = options;
        const shards = this.shardList;
        if (shards.length === 0 || maxTokens <= 0) return null;

        let depth = Infinity;
        let separator = Infinity;
        for (const s of shards) {
            if (s.depth < depth) depth = s.depth;
            if (s.separator < separator) separator = s.separator;
        }
        // A span must leave room to read at least one continuation token within the sorted depth,
        // and may not contain a value a shard uses as its separator (it would match document ends).
        const n = context.length;
        let longest = Math.min(maxSpan, n, depth - 1);
        for (let k = 1; k <= longest; k++) {
            const t = context[n - k];
            if (!(t >= 0 && t < separator)) {
                longest = k - 1;
                break;
            }
        }
        if (longest < minSpan || longest < 1) return null;

        const best = this.longestSpan(context, minSpan, longest);
        // What is known for sure about this context's longest match: exact when the search stopped
        // below its cap, under minSpan when nothing matched, unknown when the cap was reached.
        this.remember(context, best === 0 ? minSpan - 1 : best === longest ? Infinity : best);
        if (best === 0) return null;

        // The matches: one suffix-array range per shard.
        const from = n - best;
        const ranges: number[] = [];
        let matches = 0;
        for (let i = 0; i < shards.length; i++) {
            const shard = shards[i];
            const a = shard.lowerBound(context, from, best);
            const b = shard.upperBound(context, from, best, a);
            if (b > a) {
                ranges.push(i, a, b);
                matches += b - a;
            }
        }

        const readable = Math.min(maxTokens, depth - best);
        const picked = this.readContinuations(ranges, matches, best, readable);
        const scale = matches / picked;
        const rows = this.rows;
        const rowLength = this.rowLength;
        const order = this.sortRows(picked, readable, ranges.length > 3);
        // The token at depth d of the row at sorted position i, or -1 past the row's end.
        const at = (i: number, d: number) => (rowLength[order[i]] > d ? rows[order[i] * readable + d] : -1);

        // Rows are sorted, so rows that agree on their first d tokens are contiguous, and so are
        // the runs of their next token: counting is a scan, no maps.
        const firsts: [token: number, a: number, b: number][] = [];
        for (let i = 0; i < picked; ) {
            const t = at(i, 0);
            let j = i + 1;
            while (j < picked && at(j, 0) === t) j++;
            if (t >= 0) firsts.push([t, i, j]);
            i = j;
        }
        firsts.sort((x, y) => y[2] - y[1] - (x[2] - x[1]) || x[0] - y[0]);

        const continuations: Continuation[] = [];
        for (let k = 0; k < firsts.length && continuations.length < alternatives; k++) {
            const c: Continuation = { tokens: [], counts: [], confidence: [] };
            let [token, a, b] = firsts[k];
            let parent = picked;
            for (let d = 0; ; d++) {
                const count = b - a;
                const confidence = count / (parent + 2 / (best + d));
                if (confidence < minConfidence) break;
                c.tokens.push(token);
                c.counts.push(Math.round(count * scale));
                c.confidence.push(confidence);
                if (d + 1 >= readable) break;
                // The most frequent next token among the rows that agree so far.
                let bestToken = -1;
                let bestA = 0;
                let bestB = 0;
                for (let i = a; i < b; ) {
                    const t = at(i, d + 1);
                    let j = i + 1;
                    while (j < b && at(j, d + 1) === t) j++;
                    if (t >= 0 && (j - i > bestB - bestA || (j - i === bestB - bestA && t < bestToken))) {
                        bestToken = t;
                        bestA = i;
                        bestB = j;
                    }
                    i = j;
                }
                if (bestToken < 0) break; // every agreeing match ended its document here
                parent = count;
                token = bestToken;
                a = bestA;
                b = bestB;
            }
            if (c.tokens.length > 0) continuations.push(c);
        }
        if (continuations.length === 0) return null; // every match ended its document
        return { span: best, matches, continuations };
    }

    /**
     * The longest span in [minSpan, longest] whose last tokens occur in some shard, or 0.
     * Matching spans form a prefix in each shard (if the last s tokens occur, so do the last
     * s-1), so each shard is bisected, and only above the best span found in earlier shards:
     * after the first, a shard usually costs one failed search.
     */
    private longestSpan(context: ArrayLike<number>, minSpan: number, longest: number): number {
        const n = context.length;
        const bound = Math.min(longest, this.spanBound(context));
        let best = 0;
        for (const shard of this.shardList) {
            let lo = Math.max(minSpan, best + 1);
            let hi = bound;
            if (lo > hi) break;
            // The upper bound first: when text is being recited (the case that pays) it matches.
            if (shard.contains(context, n - hi, hi)) return hi;
            hi--;
            if (lo > hi || !shard.contains(context, n - lo, lo)) continue;
            let found = lo;
            lo++;
            while (lo <= hi) {
                const mid = (lo + hi) >>> 1;
                if (shard.contains(context, n - mid, mid)) {
                    found = mid;
                    lo = mid + 1;
                } else hi = mid - 1;
            }
            best = found;
        }
        return best;
    }

    /**
     * Reads what follows the matches into `rows` (up to `readable` tokens each, stopping at a
     * document's end): all matches when there are at most `exactMatchLimit`, else that many evenly
     * spaced over the ranges. Returns how many rows were read.
     */
    private readContinuations(ranges: number[], matches: number, offset: number, readable: number): number {
        const picked = Math.min(matches, exactMatchLimit);
        if (this.rows.length < picked * readable) this.rows = new Int32Array(picked * readable);
        const rows = this.rows;
        let r = 0;
        let rangeAt = 0;
        let before = 0; // matches in earlier ranges
        for (let i = 0; i < picked; i++) {
            // The i-th pick's rank among all matches, in the middle of its stratum.
            const g = picked === matches ? i : Math.floor(((i + 0.5) * matches) / picked);
            while (g >= before + (ranges[rangeAt + 2] - ranges[rangeAt + 1])) {
                before += ranges[rangeAt + 2] - ranges[rangeAt + 1];
                rangeAt += 3;
            }
            const shard = this.shardList[ranges[rangeAt]];
            const start = shard.suffixes[ranges[rangeAt + 1] + (g - before)] + offset;
            const tokens = shard.tokens;
            const sep = shard.separator;
            let len = 0;
            while (len < readable) {
                const t = tokens[start + len];
                if (t === sep) break;
                rows[r * readable + len] = t;
                len++;
            }
            this.rowLength[r] = len;
            r++;
        }
        return r;
    }

    /**
     * Row indices in lexicographic order of their tokens (a row that ends sorts after any token).
     * Rows from one shard's range already are (the suffix array order); only rows from several
     * shards need sorting.
     */
    private sortRows(picked: number, width: number, severalRanges: boolean): Int32Array {
        if (this.order.length < picked) this.order = new Int32Array(Math.max(picked, exactMatchLimit));
        const order = this.order;
        for (let i = 0; i < picked; i++) order[i] = i;
        if (!severalRanges) return order;
        const rows = this.rows;
        const len = this.rowLength;
        const view = order.subarray(0, picked);
        view.sort((x, y) => {
            const n = Math.min(len[x], len[y]);
            for (let d = 0; d < n; d++) {
                const diff = rows[x * width + d] - rows[y * width + d];
                if (diff !== 0) return diff;
            }
            return len[y] - len[x]; // the longer row first: an ended row sorts after any token
        });
        return order;
    }

    private spanBound(context: ArrayLike<number>): number {
        const tail = this.lastTail;
        const n = context.length;
        if (this.lastSpan < 0 || tail.length === 0) return Infinity;
        // Find k (tokens added since then) such that the context minus its last k tokens ends with
        // the old tail: then it cannot match more than k tokens longer than the old context did.
        for (let k = 0; k <= 8 && k + tail.length <= n; k++) {
            let same = true;
            for (let i = 1; i <= tail.length && same; i++) same = context[n - k - i] === tail[tail.length - i];
            if (same) return this.lastSpan + k;
        }
        return Infinity;
    }

    private remember(context: ArrayLike<number>, span: number): void {
        const n = context.length;
        const keep = Math.min(n, 24);
        const tail = this.lastTail;
        tail.length = keep;
        for (let i = 0; i < keep; i++) tail[i] = context[n - keep + i];
        this.lastSpan = span;
    }
}
