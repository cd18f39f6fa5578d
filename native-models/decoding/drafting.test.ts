import type { Token } from "node-llama-cpp";
import { describe, expect, it } from "vitest";
import { NgramDrafter } from "../drafters/ngram-drafter.ts";
import { HypothesisReducer } from "../reduction/hypothesis-reducer.ts";
import { VerificationCostModel } from "./cost-model.ts";
import { positionSeed } from "./sampling.ts";

const t = (...ids: number[]) => ids as Token[];

describe("NgramDrafter", () => {
    it("continues a repeated phrase from the longest matching context", () => {
        const d = new NgramDrafter();
        const history = t(1, 2, 3, 4, 5, 9, 9, 1, 2, 3);
        d.reset();
        const [h] = d.propose(history, 4);
        expect(h!.tokens).toEqual(t(4, 5, 9, 9));
        expect(h!.confidence.every((c) => c > 0 && c <= 1)).toBe(true);
    });

    it("learns from accepted tokens and proposes nothing for unseen contexts", () => {
        const d = new NgramDrafter({ minOrder: 2 });
        const history = t(7, 8);
        d.reset();
        expect(d.propose(history, 4)).toEqual([]);
        history.push(...t(6, 7, 8));
        expect(d.propose(history, 1)[0]!.tokens).toEqual(t(6));
        // A new history that is no extension of the old one (a shorter one) starts the tables over.
        expect(d.propose(t(6, 7), 1)).toEqual([]);
    });
});

describe("HypothesisReducer", () => {
    // stepMs[k]: the cost of verifying k guesses (a batch of k + 1 rows).
    const costs = (stepMs: number[]) => new VerificationCostModel([stepMs[0]!, ...stepMs], [1, ...stepMs.map(() => 1)], false);
    const linear = costs([1, 1.1, 1.2, 1.3, 1.4, 1.5, 1.6, 1.7, 1.8]);
    const steep = costs([1, 2, 3, 4, 5, 6, 7, 8, 9]);

    it("verifies long confident chains when verification is cheap, none when it is dear", () => {
        const h = { source: "ngram" as const, tokens: t(1, 2, 3, 4, 5, 6), confidence: [0.9, 0.9, 0.9, 0.9, 0.9, 0.9] };
        expect(new HypothesisReducer(linear).reduce([h], 8).tokens.length).toBe(6);
        const weak = { ...h, confidence: h.confidence.map(() => 0.3) };
        expect(new HypothesisReducer(steep).reduce([weak], 8).tokens).toEqual([]);
    });

    it("picks the chain with the most expected tokens and learns to distrust a wrong source", () => {
        const r = new HypothesisReducer(linear);
        const a = { source: "draft" as const, tokens: t(1, 2, 3), confidence: [0.9, 0.9, 0.9] };
        const b = { source: "ngram" as const, tokens: t(4, 5, 6), confidence: [0.6, 0.6, 0.6] };
        expect(r.reduce([a, b], 8).source).toBe("draft");
        for (let i = 0; i < 20; i++) r.learn(r.reduce([a], 8), 0);
        expect(r.acceptance("draft", 0.9)).toBeLessThan(0.3);
        expect(r.reduce([a, b], 8).source).toBe("ngram");
    });

    it("verifies a draft's mid-confidence guesses once the target is seen to accept most of them", () => {
        // Two rows cost 1.84 tokens' time (the heavy twin on this CPU), four rows 2.4.
        const r = new HypothesisReducer(costs([1, 1.84, 2.2, 2.4, 2.6]));
        const h = { source: "draft" as const, tokens: t(1, 2, 3), confidence: [0.4, 0.4, 0.4] };
        expect(r.reduce([h], 8).tokens).toEqual([]);
        // Judged positions of a near twin under a greedy target: sure tokens (0.97) always accepted,
        // unsure ones (0.4) three times in four. One scale factor over both (accepted ÷ predicted,
        // 1.27) would put a 0.4 at 0.51, and the chain would still not pay.
        for (let i = 0; i < 64; i++) {
            r.learn({ source: "draft", tokens: t(1), confidence: [0.97] }, 1);
            r.learn({ source: "draft", tokens: t(1), confidence: [0.4] }, i % 4 === 0 ? 0 : 1);
        }
        expect(r.acceptance("draft", 0.4)).toBeGreaterThan(0.65);
        expect(r.reduce([h], 8).tokens).toEqual(t(1, 2, 3));
        // And a draft model is asked to keep drafting below a raw 0.3.
        expect(r.minConfidence("draft")).toBeLessThan(0.3);
    });

    it("lets a draft model draft as far as its tokens have lately been accepted pays, not as far as its surest could", () => {
        const r = new HypothesisReducer(linear);
        expect(r.draftLimit("draft", 16)).toBe(8);
        // Its sure tokens always pass, its unsure ones half the time: three in four overall.
        for (let i = 0; i < 32; i++) {
            r.learn({ source: "draft", tokens: t(1), confidence: [0.99] }, 1);
            r.learn({ source: "draft", tokens: t(1), confidence: [0.3] }, i % 2);
        }
        expect(r.draftLimit("draft", 16)).toBeLessThanOrEqual(6);
        expect(r.draftLimit("draft", 16)).toBeGreaterThanOrEqual(3);
    });

    it("stops verifying guesses when verified steps really cost more than the measured batches", () => {
        const r = new HypothesisReducer(costs([1, 1.2, 1.4, 1.6, 1.8]));
        const h = { source: "ngram" as const, tokens: t(1, 2), confidence: [0.5, 0.5] };
        expect(r.reduce([h], 8).tokens.length).toBeGreaterThan(0);
        // Plain steps cost what was measured; verified ones twice (draws, erasing, bookkeeping).
        for (let i = 0; i < 60; i++) {
            r.observeStep(0, 1);
            r.observeStep(1, 2.4);
        }
        expect(r.reduce([h], 8).tokens).toEqual([]);
    });

    it("verifies guesses the calibration overpriced, once steps of that length show what they cost", () => {
        // Calibrated at load in a noisy moment: a one-guess step said to cost twice a plain one.
        const r = new HypothesisReducer(costs([1, 2, 2.4, 2.8, 3.2]));
        const h = { source: "draft" as const, tokens: t(1), confidence: [0.7] };
        expect(r.reduce([h], 8).tokens).toEqual([]);
        // Steps of one guess really take 1.4 plain steps (and a rare one of two, 2.4, as measured).
        for (let i = 0; i < 8; i++) {
            r.observeStep(0, 1);
            r.observeStep(1, 1.4);
        }
        r.observeStep(2, 2.4);
        expect(r.reduce([h], 8).tokens).toEqual(t(1));
        // A length seen fewer than four times keeps the measured cost (and is never guessed cheaper).
        const two = { source: "draft" as const, tokens: t(1, 2), confidence: [0.7, 0.7] };
        expect(r.reduce([two], 8).tokens.length).toBe(1);
    });

    it("stops asking a source whose drafting costs more than it saves", () => {
        const r = new HypothesisReducer(linear);
        for (let i = 0; i < 8; i++) {
            r.recordDrafting("early-exit", 5);
            r.learn({ source: "early-exit", tokens: t(1), confidence: [0.5] }, 0);
        }
        // Not paying: asked once now (a probe), then not again until the backoff has passed.
        expect(r.shouldQuery("early-exit")).toBe(true);
        expect(r.shouldQuery("early-exit")).toBe(false);
        for (let i = 0; i < 32; i++) r.tick();
        expect(r.shouldQuery("early-exit")).toBe(true);
        for (let i = 0; i < 32; i++) r.tick();
        expect(r.shouldQuery("early-exit")).toBe(false);
        expect(r.shouldQuery("ngram")).toBe(true);
    });

    it("does not judge a source by its first, cold queries", () => {
        const r = new HypothesisReducer(linear);
        for (let i = 0; i < 8; i++) {
            // The first two lookups run while V8 compiles them (3 ms); the rest take 10 µs.
            r.recordDrafting("retrieval", i < 2 ? 3 : 0.01);
            r.learn({ source: "retrieval", tokens: t(1), confidence: [0.5] }, i % 4 === 0 ? 1 : 0);
        }
        for (let i = 0; i < 4; i++) expect(r.shouldQuery("retrieval")).toBe(true);
    });

    it("counts what verifying a source's chains cost: accepted tokens bought at a loss do not keep it asked", () => {
        const r = new HypothesisReducer(linear);
        for (let i = 0; i < 8; i++) {
            // A cheap lookup (0.1 of a token) whose one accepted token a step costs 1.5 tokens' time more
            // than the plain step it replaced: each query loses time although tokens get accepted.
            r.recordDrafting("retrieval", 0.1);
            r.learn({ source: "retrieval", tokens: t(1, 2), confidence: [0.6, 0.6] }, 1);
            r.observeStep(0, 1);
            r.observeStep(2, 2.5, "retrieval");
        }
        expect(r.shouldQuery("retrieval")).toBe(true);
        expect(r.shouldQuery("retrieval")).toBe(false);
        // The same source, its verified steps costing what the model says: asked every step.
        const fair = new HypothesisReducer(linear);
        for (let i = 0; i < 8; i++) {
            fair.recordDrafting("retrieval", 0.1);
            fair.learn({ source: "retrieval", tokens: t(1, 2), confidence: [0.6, 0.6] }, 1);
            fair.observeStep(0, 1);
            fair.observeStep(2, 1.2, "retrieval");
        }
        for (let i = 0; i < 4; i++) expect(fair.shouldQuery("retrieval")).toBe(true);
    });
});

describe("positionSeed", () => {
    it("depends on the seed and the position only, and spreads neighbours apart", () => {
        expect(positionSeed(42, 7)).toBe(positionSeed(42, 7));
        const seeds = new Set(Array.from({ length: 1000 }, (_, i) => positionSeed(42, i)));
        expect(seeds.size).toBe(1000);
        expect(positionSeed(42, 7)).not.toBe(positionSeed(43, 7));
    });
});
