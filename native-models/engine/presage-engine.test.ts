import { mkdtempSync, rmSync, writeFileSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Token } from "node-llama-cpp";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { synthesizeModel } from "../gguf/synth.ts";
import { describeWithStories } from "../testing/stories.ts";
import { PresageEngine } from "./presage-engine.ts";
import { deriveEarlyExitDraft } from "../gguf/derive-draft.ts";
import type { StrategyName } from "./strategy.ts";
import { storyOpenings } from "../../bench/workloads/story.ts";

const work = mkdtempSync(join(tmpdir(), "presage-engine-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const strategyLists: StrategyName[][] = [["ngram"], ["early-exit"], ["auto"]];

describe("engine on a synthesized model (runs on any machine)", () => {
    let engine: PresageEngine;
    beforeAll(async () => {
        const { out } = await synthesizeModel({ out: join(work, "synth.gguf"), seed: 7, layers: 3 });
        engine = await PresageEngine.load({ modelPath: out, threads: 1, cacheDir: work });
    });
    afterAll(() => engine?.dispose());

    it("gives greedy output identical to plain decoding with every strategy", async () => {
        for (const prompt of ["the cat", "a b c a b c a b", "hello world"]) {
            const plain = await engine.generate({ prompt, maxTokens: 48 });
            expect(plain.tokens.length).toBeGreaterThan(0);
            for (const strategies of strategyLists) {
                const spec = await engine.generate({ prompt, maxTokens: 48, strategies });
                expect(spec.tokens, `${strategies} on "${prompt}"`).toEqual(plain.tokens);
            }
            const oracle = await engine.generate({ prompt, maxTokens: 48, oracle: plain.tokens, maxDraft: 8 });
            expect(oracle.tokens).toEqual(plain.tokens);
            if (plain.tokens.length > 8) expect(oracle.stats.meanAcceptedLength).toBeGreaterThan(2);
        }
    });

    it("gives sampled output identical to plain sampling with the same seed", async () => {
        const sampling = { temperature: 0.9, topK: 40, topP: 0.95, seed: 1234 };
        const plain = await engine.generate({ prompt: "the cat", maxTokens: 40, sampling });
        for (const strategies of strategyLists) {
            const spec = await engine.generate({ prompt: "the cat", maxTokens: 40, sampling, strategies });
            expect(spec.tokens).toEqual(plain.tokens);
        }
        const oracle = await engine.generate({ prompt: "the cat", maxTokens: 40, sampling, oracle: plain.tokens });
        expect(oracle.tokens).toEqual(plain.tokens);
        const other = await engine.generate({ prompt: "the cat", maxTokens: 40, sampling: { ...sampling, seed: 99 } });
        expect(other.tokens).not.toEqual(plain.tokens);
    });
});

describeWithStories("engine on stories260K with a repeat penalty", (modelPath) => {
    it("keeps greedy and seeded output identical to plain when the penalty window spans guesses", async () => {
        const engine = await PresageEngine.load({ modelPath, threads: 1, cacheDir: work });
        try {
            for (const sampling of [{ temperature: 0, repeatPenalty: { penalty: 1.3, lastTokens: 16 } }, { temperature: 0.8, seed: 3, repeatPenalty: { penalty: 1.3, lastTokens: 16 } }]) {
                const plain = await engine.generate({ prompt: "Once upon a time", maxTokens: 160, sampling });
                const unpenalized = await engine.generate({ prompt: "Once upon a time", maxTokens: 160, sampling: { ...sampling, repeatPenalty: undefined } });
                expect(plain.tokens).not.toEqual(unpenalized.tokens);
                for (const strategies of [["ngram"], ["auto"]] as StrategyName[][]) {
                    const spec = await engine.generate({ prompt: "Once upon a time", maxTokens: 160, sampling, strategies });
                    expect(spec.tokens, `${strategies} t=${sampling.temperature}`).toEqual(plain.tokens);
                }
            }
        } finally {
            await engine.dispose();
        }
    });
});

describeWithStories("engine on stories260K", (modelPath) => {
    let engine: PresageEngine;
    let draftPath: string;
    const prompts = ["Once upon a time", "Lily and Ben went to the park. Lily", "The cat sat on the mat. The dog"];
    beforeAll(async () => {
        draftPath = join(work, "stories-draft.gguf");
        await deriveEarlyExitDraft({ from: modelPath, layers: 3, out: draftPath });
        engine = await PresageEngine.load({ modelPath, draftModelPath: draftPath, threads: 1, cacheDir: work });
    });
    afterAll(() => engine?.dispose());

    it("keeps greedy output identical to plain for every strategy and prompt", async () => {
        for (const prompt of prompts) {
            const plain = await engine.generate({ prompt, maxTokens: 160 });
            for (const strategies of [["draft"], ["ngram"], ["early-exit"], ["auto"], ["draft", "ngram"]] as StrategyName[][]) {
                const spec = await engine.generate({ prompt, maxTokens: 160, strategies });
                expect(spec.tokens, `${strategies} on "${prompt}"`).toEqual(plain.tokens);
                expect(spec.stats.accepted).toBeLessThanOrEqual(spec.stats.drafted);
            }
            const noReduction = await engine.generate({ prompt, maxTokens: 160, strategies: ["draft", "ngram"], reduction: false, maxDraft: 6 });
            expect(noReduction.tokens).toEqual(plain.tokens);
        }
    });

    it("keeps seeded sampled output identical to plain sampling, also when rejected positions are drawn again", async () => {
        // Story openings × seeds where a position is first drawn in a rejected tail, then drawn again
        // from the same sampler slot with the same seed (the native sampler must restart its stream).
        for (let p = 0; p < storyOpenings.length; p++) {
            const sampling = { temperature: 0.8, seed: 1000 + p };
            const plain = await engine.generate({ prompt: storyOpenings[p]!, maxTokens: 256, sampling });
            for (const strategies of [["ngram"], ["auto"]] as StrategyName[][]) {
                const spec = await engine.generate({ prompt: storyOpenings[p]!, maxTokens: 256, sampling, strategies });
                expect(spec.tokens, `${strategies} on opening ${p}`).toEqual(plain.tokens);
            }
        }
    });

    it("accepts guesses: the draft model and the oracle give more than one token per step", async () => {
        const plain = await engine.generate({ prompt: prompts[0]!, maxTokens: 200 });
        const draft = await engine.generate({ prompt: prompts[0]!, maxTokens: 200, strategies: ["draft"], reduction: false });
        expect(draft.stats.bySource.draft?.accepted).toBeGreaterThan(0);
        const oracle = await engine.generate({ prompt: prompts[0]!, maxTokens: 200, oracle: plain.tokens, maxDraft: 8, reduction: false });
        expect(oracle.stats.meanAcceptedLength).toBeGreaterThan(5);
        expect(oracle.tokens).toEqual(plain.tokens);
    });

    it("samples from the same distribution as plain decoding (chi-square over seeds)", async () => {
        // The token at output position 1 under plain sampling and under speculative sampling with a
        // drafter that often guesses right and sometimes wrong; independent seeds on each side.
        const sampling = { temperature: 1, topK: 8, topP: 1 };
        const prompt = "Once upon a time, there was a";
        const runs = 150;
        const plainCounts = new Map<Token, number>();
        const specCounts = new Map<Token, number>();
        for (let i = 0; i < runs; i++) {
            const p = await engine.generate({ prompt, maxTokens: 2, sampling: { ...sampling, seed: 10_000 + i } });
            plainCounts.set(p.tokens[1]!, (plainCounts.get(p.tokens[1]!) ?? 0) + 1);
            const s = await engine.generate({ prompt, maxTokens: 2, sampling: { ...sampling, seed: 50_000 + i }, strategies: ["draft"], reduction: false });
            specCounts.set(s.tokens[1]!, (specCounts.get(s.tokens[1]!) ?? 0) + 1);
        }
        const { statistic, degrees } = chiSquareTwoSample(plainCounts, specCounts);
        // 99.9% quantile of chi-square: a lossless sampler fails this one time in a thousand.
        expect(statistic).toBeLessThan(chiSquareCritical999(degrees));
    });

    it("stops on an AbortSignal and leaves the sequence reusable", async () => {
        const plain = await engine.generate({ prompt: prompts[1]!, maxTokens: 120 });
        const controller = new AbortController();
        let steps = 0;
        const aborted = await engine.generate({
            prompt: prompts[1]!, maxTokens: 120, strategies: ["ngram"], signal: controller.signal,
            onStep: () => { if (++steps === 5) controller.abort(); }
        });
        expect(aborted.stopReason).toBe("abort");
        expect(aborted.tokens.length).toBeLessThan(plain.tokens.length);
        expect(aborted.tokens).toEqual(plain.tokens.slice(0, aborted.tokens.length));
        const again = await engine.generate({ prompt: prompts[1]!, maxTokens: 120, strategies: ["draft"] });
        expect(again.tokens).toEqual(plain.tokens);
    });

    it("ends at stop strings, and streams text that adds up to the answer", async () => {
        const plain = await engine.generate({ prompt: prompts[0]!, maxTokens: 100 });
        const stop = plain.text.slice(30, 36);
        let streamed = "";
        const cut = await engine.generate({ prompt: prompts[0]!, maxTokens: 100, stopStrings: [stop], strategies: ["ngram"], onStep: (e) => { streamed += e.text; } });
        expect(cut.stopReason).toBe("stop");
        expect(cut.text).toBe(plain.text.slice(0, plain.text.indexOf(stop)));
        expect(streamed).toBe(cut.text);
    });

    it("reports a clear error for a corrupt or truncated model file", async () => {
        const truncated = join(work, "truncated.gguf");
        writeFileSync(truncated, readFileSync(modelPath).subarray(0, 100_000));
        await expect(PresageEngine.load({ modelPath: truncated, threads: 1 })).rejects.toThrow(/truncated|past the end|ends/i);
        await expect(PresageEngine.load({ modelPath: join(work, "missing.gguf"), threads: 1 })).rejects.toThrow(/no model file/);
    });

    it("refuses a draft model with another vocabulary", async () => {
        const synth = await synthesizeModel({ out: join(work, "synth-draft.gguf"), seed: 3 });
        await expect(PresageEngine.load({ modelPath, draftModelPath: synth.out, threads: 1 })).rejects.toThrow(/vocabularies differ/);
    });
});

/** Pearson's chi-square for two samples over the union of their categories (rare ones pooled). */
function chiSquareTwoSample(a: Map<Token, number>, b: Map<Token, number>): { statistic: number; degrees: number } {
    const na = [...a.values()].reduce((x, y) => x + y, 0);
    const nb = [...b.values()].reduce((x, y) => x + y, 0);
    const cells: [number, number][] = [];
    let pooled: [number, number] = [0, 0];
    for (const key of new Set([...a.keys(), ...b.keys()])) {
        const cell: [number, number] = [a.get(key) ?? 0, b.get(key) ?? 0];
        if (cell[0] + cell[1] < 10) pooled = [pooled[0] + cell[0], pooled[1] + cell[1]];
        else cells.push(cell);
    }
    if (pooled[0] + pooled[1] > 0) cells.push(pooled);
    let statistic = 0;
    for (const [x, y] of cells) {
        const total = x + y;
        const ea = (total * na) / (na + nb);
        const eb = (total * nb) / (na + nb);
        statistic += (x - ea) ** 2 / ea + (y - eb) ** 2 / eb;
    }
    return { statistic, degrees: Math.max(1, cells.length - 1) };
}

/** Wilson–Hilferty approximation of the chi-square 0.999 quantile. */
function chiSquareCritical999(k: number): number {
    const z = 3.0902;
    return k * (1 - 2 / (9 * k) + z * Math.sqrt(2 / (9 * k))) ** 3;
}
