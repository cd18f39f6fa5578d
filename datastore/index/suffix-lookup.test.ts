import { describe, expect, it } from "vitest";
import { IndexShard } from "./index-shard.ts";
import { buildSuffixArray, separatorFor, type TokenArray } from "./suffix-array.ts";
import { exactMatchLimit, SuffixLookup } from "./suffix-lookup.ts";

/** Deterministic generator (mulberry32). */
function rng(seed: number) {
    return () => {
        seed = (seed + 0x6d2b79f5) | 0;
        let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
        t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

function join(docs: number[][], width: 2 | 4): TokenArray {
    const total = docs.reduce((n, d) => n + d.length + 1, 0);
    const out = width === 2 ? new Uint16Array(total) : new Uint32Array(total);
    const sep = separatorFor(out);
    let at = 0;
    for (const d of docs) {
        out.set(d, at);
        at += d.length;
        out[at++] = sep;
    }
    return out;
}

/** Occurrences of `pattern` inside any one document. */
function occurrences(docs: number[][], pattern: number[]): number {
    let n = 0;
    for (const d of docs)
        outer: for (let p = 0; p + pattern.length <= d.length; p++) {
            for (let k = 0; k < pattern.length; k++) if (d[p + k] !== pattern[k]) continue outer;
            n++;
        }
    return n;
}

/** Next-token counts after `pattern`, by brute force. */
function nextCounts(docs: number[][], pattern: number[]): Map<number, number> {
    const out = new Map<number, number>();
    for (const d of docs)
        outer: for (let p = 0; p + pattern.length < d.length; p++) {
            for (let k = 0; k < pattern.length; k++) if (d[p + k] !== pattern[k]) continue outer;
            const t = d[p + pattern.length];
            out.set(t, (out.get(t) ?? 0) + 1);
        }
    return out;
}

/** Markov-ish documents over `alphabet`, so that many spans repeat. */
function randomDocs(random: () => number, count: number, length: number, alphabet: number[]): number[][] {
    const docs: number[][] = [];
    for (let d = 0; d < count; d++) {
        const doc: number[] = [];
        for (let i = 0; i < length; i++) {
            const prev = doc[i - 1] ?? alphabet[0];
            doc.push(random() < 0.7 ? alphabet[(alphabet.indexOf(prev) * 3 + (random() < 0.5 ? 1 : 2)) % alphabet.length] : alphabet[Math.floor(random() * alphabet.length)]);
        }
        docs.push(doc);
    }
    return docs;
}

function checkAgainstBruteForce(docs: number[][], shardsOf: number[][][], width: 2 | 4, contexts: number[][]) {
    const lookup = new SuffixLookup(shardsOf.map((group, i) => IndexShard.build(i, join(group, width))));
    let checked = 0;
    for (const context of contexts) {
        const result = lookup.lookup(context, { maxSpan: 16, minSpan: 2, maxTokens: 8, alternatives: 3 });
        let best = 0;
        for (let s = 2; s <= Math.min(16, context.length); s++) if (occurrences(docs, context.slice(-s)) > 0) best = s;
        if (best === 0) {
            expect(result).toBeNull();
            continue;
        }
        const suffix = context.slice(-best);
        const next = nextCounts(docs, suffix);
        if (next.size === 0) {
            expect(result).toBeNull(); // every match ended its document
            continue;
        }
        expect(result).not.toBeNull();
        expect(result!.span).toBe(best);
        expect(result!.matches).toBe(occurrences(docs, suffix));
        const firsts = result!.continuations.map((c) => c.tokens[0]);
        expect(new Set(firsts).size).toBe(firsts.length);
        const exact = result!.matches <= exactMatchLimit;
        for (const c of result!.continuations) {
            for (let i = 0; i < c.tokens.length; i++) {
                const truth = occurrences(docs, [...suffix, ...c.tokens.slice(0, i + 1)]);
                // Exact below the limit; above it, estimated from a sample, but always a real continuation.
                if (exact) expect(c.counts[i]).toBe(truth);
                else expect(truth).toBeGreaterThan(0);
                expect(c.confidence[i]).toBeGreaterThan(0);
                expect(c.confidence[i]).toBeLessThan(1);
            }
            if (exact) {
                // The whole chain is the brute-force greedy one: most frequent next token, ties to the smaller id.
                const chain = [c.tokens[0]];
                while (chain.length < 8) {
                    const next = [...nextCounts(docs, [...suffix, ...chain])].sort((a, b) => b[1] - a[1] || a[0] - b[0]);
                    if (next.length === 0) break;
                    chain.push(next[0][0]);
                }
                expect(c.tokens).toEqual(chain);
            }
        }
        // The most frequent next token comes first: always below the limit, and above it whenever
        // it holds most of the matches (the sample is stratified).
        const [topToken, topCount] = [...next].sort((a, b) => b[1] - a[1] || a[0] - b[0])[0];
        if (exact || topCount * 2 > result!.matches + 2) expect(result!.continuations[0].tokens[0]).toBe(topToken);
        if (exact) expect(result!.continuations[0].counts[0]).toBe(topCount);
        checked++;
    }
    return checked;
}

describe("buildSuffixArray", () => {
    it("orders suffixes by their first `depth` tokens and leaves separators out", () => {
        const random = rng(7);
        const docs = randomDocs(random, 20, 300, [0, 1, 2, 3]);
        const tokens = join(docs, 2);
        const sa = buildSuffixArray(tokens, { depth: 32 });
        expect(sa.length).toBe(docs.reduce((n, d) => n + d.length, 0));
        const key = (p: number) => Array.from(tokens.subarray(p, Math.min(tokens.length, p + 32)));
        for (let j = 1; j < sa.length; j++) {
            const a = key(sa[j - 1]);
            const b = key(sa[j]);
            let cmp = 0;
            for (let k = 0; k < Math.min(a.length, b.length) && cmp === 0; k++) cmp = a[k] - b[k];
            if (cmp === 0) cmp = a.length - b.length > 0 && b.length < 32 ? 1 : 0;
            expect(cmp <= 0).toBe(true);
        }
        expect(new Set(sa).size).toBe(sa.length);
    });
});

describe("SuffixLookup", () => {
    it("matches a brute-force search (16-bit tokens, several shards)", () => {
        const random = rng(1);
        const docs = randomDocs(random, 30, 200, [0, 1, 2, 3, 4, 5, 6, 7, 8]);
        const contexts: number[][] = [];
        for (let i = 0; i < 300; i++) {
            // Half taken from the documents (long matches), half random (short ones).
            if (i % 2 === 0) {
                const d = docs[Math.floor(random() * docs.length)];
                const end = 1 + Math.floor(random() * d.length);
                contexts.push(d.slice(Math.max(0, end - 20), end));
            } else contexts.push(Array.from({ length: 1 + Math.floor(random() * 20) }, () => Math.floor(random() * 9)));
        }
        const checked = checkAgainstBruteForce(docs, [docs.slice(0, 10), docs.slice(10, 25), docs.slice(25)], 2, contexts);
        expect(checked).toBeGreaterThan(200);
    });

    it("works with token ids above 65,535 (32-bit streams)", () => {
        const random = rng(2);
        const alphabet = [70_000, 65_535, 151_000, 99_999, 128_255, 3, 65_536];
        const docs = randomDocs(random, 10, 300, alphabet);
        const contexts: number[][] = [];
        for (let i = 0; i < 200; i++) {
            const d = docs[Math.floor(random() * docs.length)];
            const end = 1 + Math.floor(random() * d.length);
            const context = d.slice(Math.max(0, end - 18), end);
            if (i % 3 === 0) context.push(alphabet[Math.floor(random() * alphabet.length)]);
            contexts.push(context);
        }
        const checked = checkAgainstBruteForce(docs, [docs.slice(0, 4), docs.slice(4)], 4, contexts);
        expect(checked).toBeGreaterThan(150);
        // 65,535 is a real token in a 32-bit stream, not a separator.
        const lookup = new SuffixLookup([IndexShard.build(1, join([[65_535, 70_000, 65_535, 123_456]], 4))]);
        expect(lookup.lookup([65_535, 70_000, 65_535])?.continuations[0].tokens).toEqual([123_456]);
    });

    it("never matches across documents and never returns a separator", () => {
        const lookup = new SuffixLookup([IndexShard.build(1, join([[1, 2, 3], [4, 5, 6]], 2))]);
        expect(lookup.lookup([2, 3])).toBeNull(); // matches only at the end of a document
        expect(lookup.lookup([3, 4])).toBeNull(); // spans the boundary
        expect(lookup.lookup([9, 4, 5])).toEqual({
            span: 2,
            matches: 1,
            continuations: [{ tokens: [6], counts: [1], confidence: [1 / (1 + 2 / 2)] }]
        });
        // A context token equal to the 16-bit separator value cannot match anything.
        expect(lookup.lookup([4, 0xffff])).toBeNull();
    });

    it("ranks continuations by count and stops at maxTokens", () => {
        const docs = [
            [1, 2, 3, 4, 5, 6],
            [1, 2, 3, 4, 5, 7],
            [1, 2, 3, 9, 9, 9],
            [8, 2, 3, 4, 5, 6]
        ];
        const lookup = new SuffixLookup([IndexShard.build(1, join(docs, 2))]);
        const r = lookup.lookup([0, 1, 2, 3], { maxTokens: 2 })!;
        expect(r.span).toBe(3);
        expect(r.matches).toBe(3);
        expect(r.continuations.map((c) => c.tokens)).toEqual([
            [4, 5],
            [9, 9]
        ]);
        expect(r.continuations[0].counts).toEqual([2, 2]);
        expect(lookup.lookup([0, 1, 2, 3], { alternatives: 1 })!.continuations).toHaveLength(1);
        expect(lookup.lookup([2, 3], { minSpan: 3 })).toBeNull();
    });
});
