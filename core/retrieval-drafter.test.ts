import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LlamaModel, Token } from "node-llama-cpp";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Datastore } from "../datastore/datastore.ts";
import { IndexBuilder } from "../datastore/index/index-builder.ts";
import { toTokenArray } from "../datastore/token-codec.ts";
import { RetrievalDrafter } from "../native-models/drafters/retrieval-drafter.ts";
import { getRuntime } from "../native-models/runtime/llama-runtime.ts";
import { tokenizerIdentity } from "../native-models/runtime/tokenizer-identity.ts";
import { describeWithStories } from "../native-models/testing/stories.ts";
import { openRetrievalIndex } from "./datastore-wiring.ts";

describeWithStories("RetrievalDrafter", (modelPath) => {
    let dir: string;
    let ds: Datastore;
    let model: LlamaModel;

    /** Stores a document's text and tokens and brings the index up to date, as ingestion would. */
    async function addDocument(path: string, text: string) {
        const identity = tokenizerIdentity(model);
        const tokenizer = ds.tokenizers.ensure(identity);
        const source = ds.sources.add("/notes", "folder");
        ds.documents.saveReady(
            { sourceId: source.id, path, size: text.length, mtimeMs: 1, contentHash: path, text },
            { tokenizerId: tokenizer.id, tokens: toTokenArray(model.tokenize(text), tokenizer.tokenWidth) }
        );
        await new IndexBuilder(ds, tokenizer).build();
    }

    beforeAll(async () => {
        dir = mkdtempSync(join(tmpdir(), "presage-retrieval-"));
        ds = Datastore.open(join(dir, "store.db"));
        const llama = await getRuntime({ backend: "cpu" });
        model = await llama.loadModel({ modelPath, vocabOnly: true });
    });
    afterAll(async () => {
        ds?.close();
        await model?.dispose();
        rmSync(dir, { recursive: true, force: true });
    });

    it("proposes what followed the context in the user's documents", async () => {
        await addDocument("/notes/a.txt", "The old lighthouse keeper polished the brass lamp every evening before the storm.");
        await addDocument("/notes/b.txt", "The old lighthouse keeper polished the brass lamp every evening before the storm.");
        await addDocument("/notes/c.txt", "The old lighthouse keeper sang to the gulls.");
        const index = openRetrievalIndex(ds, model);
        const drafter = new RetrievalDrafter(index, {}, index);
        try {
            expect(drafter.source).toBe("retrieval");
            const history = model.tokenize("Tom said that the old lighthouse keeper", false);
            const hyps = drafter.propose(history, 10);
            expect(hyps.length).toBe(2);
            expect(hyps.every((h) => h.source === "retrieval")).toBe(true);
            expect(model.detokenize(hyps[0].tokens)).toMatch(/^ ?polished the/);
            expect(model.detokenize(hyps[1].tokens)).toMatch(/^ ?sang to the gulls/);
            expect(hyps[0].tokens.length).toBeLessThanOrEqual(10);
            for (const h of hyps) {
                expect(h.confidence).toHaveLength(h.tokens.length);
                for (const c of h.confidence) expect(c > 0 && c < 1).toBe(true);
            }
            // Two of three matches continue with "polished": more confident than "sang".
            expect(hyps[0].confidence[0]).toBeGreaterThan(hyps[1].confidence[0]);
            expect(drafter.propose(history, 0)).toEqual([]);
            expect(drafter.propose(model.tokenize("zebra quantum xylophone", false), 8)).toEqual([]);
        } finally {
            drafter.dispose();
        }
    });

    it("sees documents indexed after it was created, and proposes in microseconds", async () => {
        const index = openRetrievalIndex(ds, model);
        const drafter = new RetrievalDrafter(index);
        try {
            const history = model.tokenize("and then the purple dragon", false) as Token[];
            expect(drafter.propose(history, 8)).toEqual([]);
            await addDocument("/notes/d.txt", "Once the purple dragon baked a cake for the whole village.");
            expect(model.detokenize(drafter.propose(history, 8)[0].tokens)).toMatch(/^ ?baked a cake/);

            const rounds = 2000;
            const started = performance.now();
            for (let i = 0; i < rounds; i++) drafter.propose(history, 16);
            const perCallUs = ((performance.now() - started) * 1000) / rounds;
            expect(perCallUs).toBeLessThan(200);
        } finally {
            drafter.dispose();
            index.close();
        }
    });
});
