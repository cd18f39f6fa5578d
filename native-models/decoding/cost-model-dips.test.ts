import type { Token } from "node-llama-cpp";
import { describe, expect, it } from "vitest";
import { HypothesisReducer } from "../reduction/hypothesis-reducer.ts";
import { keepConfirmedDips, VerificationCostModel } from "./cost-model.ts";

/**
 * The 1.5B twin requantized to Q4_K_M, measured here (multiples of one row): 2 rows 1.38, 3 rows 2.43,
 * 4 rows 2.07, 6 rows 2.19. Index n is a batch of n rows; index 0 is unused (as in `measure`).
 */
const q4kRows = [1, 1, 1.38, 2.43, 2.07, 2.13, 2.19, 2.6, 3.0, 3.2];
const clampedRows = q4kRows.map((ms, n) => Math.max(ms, ...q4kRows.slice(1, Math.max(1, n))));

describe("keepConfirmedDips", () => {
    const sizes = [1, 2, 3, 4, 5];
    const measured = [1, 1.38, 2.43, 2.07, 2.5];

    it("keeps a dip that measures again more than 5% cheaper, at the mean of its two measurements", async () => {
        const asked: number[] = [];
        const curve = await keepConfirmedDips(sizes, measured, async (rows) => (asked.push(rows), rows === 3 ? 2.4 : 2.05));
        expect(asked).toEqual([3, 4]);
        expect(curve).toEqual([1, 1.38, 2.43, (2.07 + 2.05) / 2, 2.5]);
    });

    it("clamps a dip that does not hold (noise), as a cost that cannot fall", async () => {
        const curve = await keepConfirmedDips(sizes, measured, async (rows) => (rows === 3 ? 2.3 : 2.25));
        expect(curve).toEqual([1, 1.38, 2.43, 2.43, 2.5]);
    });

    it("measures nothing again when the curve never falls", async () => {
        const curve = await keepConfirmedDips(sizes, [1, 1.4, 1.8, 2.2, 2.5], async () => {
            throw new Error("no re-measurement expected");
        });
        expect(curve).toEqual([1, 1.4, 1.8, 2.2, 2.5]);
    });
});

describe("HypothesisReducer on a cost curve with a dip", () => {
    // Three guesses, each accepted with probability 0.8 (a new source's confidence is taken at its word).
    const chain = { source: "draft" as const, tokens: [11, 12, 13] as Token[], confidence: [0.8, 0.8, 0.8] };

    it("verifies 3 guesses where a batch of 4 rows costs less than one of 3", () => {
        const reducer = new HypothesisReducer(new VerificationCostModel(q4kRows, q4kRows.map(() => 2), true));
        // Expected tokens per ms: 1 guess 1.8/1.38 = 1.30, 2 guesses 2.44/2.43 = 1.00, 3 guesses 2.95/2.07 = 1.43.
        expect(reducer.reduce([chain], 16).tokens).toEqual([11, 12, 13]);
    });

    it("verifies 1 guess on the same curve clamped to non-decreasing costs", () => {
        const reducer = new HypothesisReducer(new VerificationCostModel(clampedRows, clampedRows.map(() => 2), true));
        // 3 guesses would now cost as much as 2: 2.95/2.43 = 1.21 < 1.30.
        expect(clampedRows[4]).toBe(2.43);
        expect(reducer.reduce([chain], 16).tokens).toEqual([11]);
    });
});
