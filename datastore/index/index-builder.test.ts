import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Datastore } from "../datastore.ts";
import type { TokenizerRecord } from "../tokenizers.ts";
import { IndexBuilder } from "./index-builder.ts";
import { RetrievalIndex } from "./retrieval-index.ts";

let dir: string;
let ds: Datastore;
let tokenizer: TokenizerRecord;
let sourceId: number;
beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "presage-builder-"));
    ds = Datastore.open(join(dir, "store.db"));
    tokenizer = ds.tokenizers.ensure({ id: "big", vocabSize: 200_000 });
    sourceId = ds.sources.add("/docs", "folder").id;
});
afterEach(() => {
    ds.close();
    rmSync(dir, { recursive: true, force: true });
});

function addDoc(name: string, tokens: number[]): number {
    return ds.documents.saveReady(
        { sourceId, path: `/docs/${name}`, size: tokens.length, mtimeMs: 1, contentHash: name, text: name },
        { tokenizerId: tokenizer.id, tokens: Uint32Array.from(tokens) }
    );
}

/** A document whose tokens (ids above 65,535) say "doc i" then a marker. */
const docTokens = (i: number, length = 50) => [100_000 + i, 150_000, ...Array.from({ length }, (_, k) => 70_000 + ((i * 31 + k) % 1000)), 199_999];

describe("IndexBuilder", () => {
    it("the index's size on disk counts its token streams and suffix arrays", async () => {
        const emptyBytes = ds.indexDiskBytes();
        addDoc("big.txt", docTokens(1, 5000));
        await new IndexBuilder(ds, tokenizer).build();
        // The stream alone holds 4 bytes a token (ids above 65,535).
        expect(ds.indexDiskBytes() - emptyBytes).toBeGreaterThanOrEqual(4 * 5000);
    });

    it("covers every stream, keeps shards under the size limit, and merges the smallest past maxShards", async () => {
        ds.settings.set("index.shardTokens", 200);
        ds.settings.set("index.maxShards", 3);
        const builder = new IndexBuilder(ds, tokenizer);
        for (let round = 0; round < 6; round++) {
            addDoc(`r${round}.txt`, docTokens(round, 20));
            await builder.build();
            const shards = ds.shards.list(tokenizer.id);
            expect(shards.length).toBeLessThanOrEqual(3);
            expect(ds.shards.unsharded(tokenizer.id)).toEqual([]);
            for (const s of shards) expect(s.tokenCount).toBeLessThanOrEqual(200);
        }
        const total = ds.shards.list(tokenizer.id).reduce((n, s) => n + s.tokenCount, 0);
        expect(total).toBe(ds.documents.tokenCount(tokenizer.id));
        // 4-byte tokens and 4-byte suffix array entries: at least 8 bytes a token more than the empty tables.
        expect(ds.integrityCheck()).toBe("ok");
    });

    it("a RetrievalIndex follows builds and removals in this process, and stores 32-bit tokens", async () => {
        const index = RetrievalIndex.open(ds, tokenizer.id);
        const a = addDoc("a.txt", docTokens(1));
        addDoc("b.txt", docTokens(2));
        await new IndexBuilder(ds, tokenizer).build();
        expect(index.tokenCount).toBe(2 * docTokens(1).length);
        expect(index.find([100_001, 150_000], { maxTokens: 3 })?.continuations[0].tokens).toEqual(docTokens(1).slice(2, 5));
        ds.documents.remove(a);
        ds.events.emit("index-changed", tokenizer.id);
        expect(index.find([100_001, 150_000])).toBeNull();
        expect(index.tokenCount).toBe(0); // the shard held both documents
        await new IndexBuilder(ds, tokenizer).build();
        expect(index.find([100_002, 150_000], { maxTokens: 2 })?.continuations[0].tokens).toEqual(docTokens(2).slice(2, 4));
        index.close();
    });
});
