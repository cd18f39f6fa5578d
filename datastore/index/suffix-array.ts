/**
 * Suffix arrays over token streams, sorted only as deep as lookups ever look.
 *
 * A lookup matches at most `maxSpan` context tokens and then reads at most `maxContinuation` tokens
 * after them, so two suffixes that agree on their first `maxSpan + maxContinuation` tokens are
 * interchangeable. Prefix doubling stops there: five rounds for a depth of 32, whatever the text
 * (a fully sorted array would need a round per doubling of the longest repeat, which in a corpus
 * of near-duplicate files is most of the file).
 */

/** A token stream: 16-bit where the vocabulary fits (ids 0..65534), else 32-bit. */
export type TokenArray = Uint16Array | Uint32Array;

/**
 * The token that ends every document in a shard's stream. It is the largest value of the stream's
 * width, which no vocabulary that picked that width can produce, so a match never runs across two
 * documents and sorts after every real token.
 */
export function separatorFor(tokens: TokenArray): number {
    return tokens instanceof Uint16Array ? 0xffff : 0xffffffff;
}

/** The narrowest stream width whose separator no token of this vocabulary can equal. */
export function tokenWidthFor(vocabularySize: number): 2 | 4 {
    return vocabularySize <= 0xffff ? 2 : 4;
}

export interface SuffixArrayOptions {
    /** How many leading tokens of each suffix the order must respect (default 32). */
    depth?: number;
}

/**
 * The start positions of every suffix that begins with a real token (separators are left out: no
 * lookup starts at one), ordered by their first `depth` tokens.
 */
export function buildSuffixArray(tokens: TokenArray, { depth = 32 }: SuffixArrayOptions = {}): Int32Array {
    const n = tokens.length;
    const separator = separatorFor(tokens);
    if (n === 0) return new Int32Array(0);

    // Round 0: bucket by the first token. Ranks are bucket start indexes, which makes the
    // counting sort of later rounds need no separate prefix-sum pass.
    let sa = new Int32Array(n);
    let rank = new Int32Array(n);
    {
        let maxToken = 0;
        for (let i = 0; i < n; i++) {
            const t = tokens[i] === separator ? -1 : tokens[i];
            if (t > maxToken) maxToken = t;
        }
        // Separators take the last bucket, after every real token.
        const buckets = maxToken + 2;
        const count = new Int32Array(buckets + 1);
        for (let i = 0; i < n; i++) {
            const t = tokens[i];
            count[(t === separator ? buckets - 1 : t) + 1]++;
        }
        for (let b = 0; b < buckets; b++) count[b + 1] += count[b];
        const start = count.slice(0, buckets);
        for (let i = 0; i < n; i++) {
            const t = tokens[i];
            const b = t === separator ? buckets - 1 : t;
            rank[i] = start[b];
            sa[count[b]++] = i;
        }
    }

    let order = new Int32Array(n);
    let next = new Int32Array(n);
    const fill = new Int32Array(n);
    for (let h = 1; h < depth; h *= 2) {
        // Positions ordered by the second half-key rank[i + h]: those whose second half runs off the
        // end come first (an empty key is smallest), then the others in the previous round's order.
        let k = 0;
        for (let i = Math.max(0, n - h); i < n; i++) order[k++] = i;
        for (let j = 0; j < n; j++) {
            const p = sa[j];
            if (p >= h) order[k++] = p - h;
        }
        // Stable distribution by the first half-key into the buckets that start at rank[p].
        for (let j = 0; j < n; j++) fill[j] = 0;
        for (let j = 0; j < n; j++) {
            const p = order[j];
            const r = rank[p];
            sa[r + fill[r]++] = p;
        }
        // New ranks: a new bucket starts wherever either half-key changes.
        let bucket = 0;
        let distinct = true;
        next[sa[0]] = 0;
        for (let j = 1; j < n; j++) {
            const p = sa[j];
            const q = sa[j - 1];
            const r2p = p + h < n ? rank[p + h] : -1;
            const r2q = q + h < n ? rank[q + h] : -1;
            if (rank[p] !== rank[q] || r2p !== r2q) bucket = j;
            else distinct = false;
            next[p] = bucket;
        }
        const swap = rank;
        rank = next;
        next = swap;
        if (distinct) break;
    }
    order = next = new Int32Array(0);

    // Separators sort last; cut them off.
    let real = n;
    while (real > 0 && tokens[sa[real - 1]] === separator) real--;
    return real === n ? sa : sa.slice(0, real);
}
