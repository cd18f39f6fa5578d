import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeWithStories } from "../native-models/testing/stories.ts";
import { runDatastoreBench } from "./datastore-bench.ts";
import { buildGroundedCorpus, groundedHeldOutPrompts, storySeparator } from "./grounded-corpus.ts";

describeWithStories("grounded corpus", (modelPath) => {
    let cacheDir: string;
    beforeAll(() => {
        cacheDir = mkdtempSync(join(tmpdir(), "presage-grounded-"));
    });
    afterAll(() => rmSync(cacheDir, { recursive: true, force: true }));

    it("samples stories with fixed seeds and caches them outside the repository", async () => {
        const a = await buildGroundedCorpus({ modelPath, tokens: 3000, cacheDir, sequences: 8 });
        expect(a.fromCache).toBe(false);
        expect(a.tokens).toBeGreaterThanOrEqual(3000);
        expect(a.stories.length).toBeGreaterThan(5);
        expect(a.path.startsWith(cacheDir)).toBe(true);
        expect(readFileSync(a.path, "utf8").split(storySeparator)).toEqual(a.stories);
        const cached = await buildGroundedCorpus({ modelPath, tokens: 3000, cacheDir, sequences: 8 });
        expect(cached.fromCache).toBe(true);
        expect(cached.stories).toEqual(a.stories);
        const otherSeed = await buildGroundedCorpus({ modelPath, tokens: 3000, cacheDir, seed: 2, sequences: 8 });
        expect(otherSeed.stories).not.toEqual(a.stories);
    });

    it("gives held-out prompts from stories that are not in the corpus", async () => {
        const corpus = await buildGroundedCorpus({ modelPath, tokens: 3000, cacheDir, sequences: 8 });
        const prompts = await groundedHeldOutPrompts({ modelPath, count: 4, cacheDir, corpusText: corpus.text, sequences: 8 });
        expect(prompts).toHaveLength(4);
        for (const p of prompts) expect(p.length).toBeGreaterThan(20);
    });

    it("the datastore benchmark reports its numbers", async () => {
        const r = await runDatastoreBench({ tokens: 20_000, corpusTokens: 3000, cacheDir, lookups: 500, workers: 1 });
        expect(r.tokens).toBeGreaterThan(15_000);
        expect(r.buildMBps).toBeGreaterThan(0);
        expect(r.bytesPerToken).toBeGreaterThan(6);
        expect(r.bytesPerToken).toBeLessThan(12);
        expect(r.lookupP99us).toBeGreaterThanOrEqual(r.lookupP50us);
        expect(r.hitRate).toBeGreaterThan(0.5);
    });
});
