import { describe, expect, it } from "vitest";
import { ConfidenceCalibration } from "./confidence-calibration.ts";

/** A fixed sequence in [0, 1), so the tests see the same verdicts every run. */
function* uniform(seed = 1): Generator<number> {
    let x = seed;
    for (;;) {
        x = (x * 1103515245 + 12345) % 2 ** 31;
        yield x / 2 ** 31;
    }
}

describe("ConfidenceCalibration", () => {
    it("takes confidences at their word until the target has judged some", () => {
        const c = new ConfidenceCalibration();
        for (const p of [0.05, 0.3, 0.5, 0.9]) expect(c.probability(p)).toBeCloseTo(p, 6);
        expect(c.confidenceFor(0.3)).toBeCloseTo(0.3, 6);
    });

    it("learns that an underconfident source's mid-confidence guesses are mostly accepted", () => {
        // As measured on the heavy twin's draft model under a greedy target: acceptance well above
        // the confidence in the middle of the range, about equal at the top.
        const truth = (conf: number) => 1 / (1 + Math.exp(-(1.4 + 0.9 * Math.log(conf / (1 - conf)))));
        const c = new ConfidenceCalibration();
        const r = uniform();
        for (let i = 0; i < 256; i++) {
            const conf = 0.1 + 0.89 * r.next().value!;
            c.observe(conf, r.next().value! < truth(conf));
        }
        for (const conf of [0.25, 0.5, 0.9]) expect(Math.abs(c.probability(conf) - truth(conf))).toBeLessThan(0.1);
        // A draft model should keep drafting well below a raw 0.3.
        expect(c.confidenceFor(0.3)).toBeLessThan(0.1);
    });

    it("brings down a source that always says the same high confidence and is mostly wrong", () => {
        const c = new ConfidenceCalibration();
        for (let i = 0; i < 64; i++) c.observe(0.95, i % 10 === 0);
        expect(c.probability(0.95)).toBeLessThan(0.2);
        expect(c.confidenceFor(0.3)).toBeGreaterThan(1);
    });

    it("drifts back towards the confidence as given when relaxed", () => {
        const c = new ConfidenceCalibration();
        for (let i = 0; i < 64; i++) c.observe(0.9, false);
        expect(c.probability(0.9)).toBeLessThan(0.1);
        for (let i = 0; i < 300; i++) c.relax(0.97);
        expect(c.probability(0.9)).toBeCloseTo(0.9, 2);
    });
});
