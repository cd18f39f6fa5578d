import { describe, expect, it } from "vitest";
import { StatsRecorder } from "./stats.ts";

describe("StatsRecorder", () => {
    const step = (tokens: number, plainMs: number | null, extra: object = {}) => ({ drafted: 0, accepted: 0, source: null, tokens: new Array(tokens).fill(1), plainMs, ...extra });

    it("counts generation apart from the prompt, and the speedup against plain decoding's predicted time", () => {
        const r = new StatsRecorder({ exact: false, batchInvariant: true }, 0);
        r.record(step(1, null, { prompt: { tokens: 100, evaluated: 40 } }), 20); // the prompt took 20 ms
        r.record(step(3, 6), 24);
        r.record(step(1, 2), 30);
        const s = r.snapshot(30, 30);
        expect(s.tokens).toBe(5);
        expect(s.timeToFirstTokenMs).toBe(20);
        expect(s.promptTokens).toBe(100);
        expect(s.promptTokensPerSecond).toBeCloseTo(2000, 9);
        // 4 tokens in the 10 ms after the first; plain decoding would have taken 8 ms for them.
        expect(s.tokensPerSecond).toBeCloseTo(400, 9);
        expect(s.baselineTokensPerSecond).toBeCloseTo(500, 9);
        expect(s.speedupEstimate).toBeCloseTo(0.8, 9);
        expect(s.seconds).toBeCloseTo(0.03, 9);
    });

    it("shows no speedup where one step's plain cost is unknown, and trims a stop string's tokens", () => {
        const r = new StatsRecorder(undefined, 0);
        r.record(step(1, null), 5);
        r.record(step(2, 4), 9);
        r.record(step(2, null), 12);
        expect(r.snapshot(12).speedupEstimate).toBeNull();
        expect(r.snapshot(12).baselineTokensPerSecond).toBeNull();
        const t = new StatsRecorder(undefined, 0);
        t.record(step(1, null), 5);
        t.record(step(4, 8), 9);
        t.trim(2);
        const s = t.snapshot(9, 9);
        expect(s.tokens).toBe(3);
        expect(s.tokensPerSecond).toBeCloseTo(500, 9);
        expect(s.speedupEstimate).toBeCloseTo(1, 9);
        // A step that only flushes held-back text adds no tokens and keeps the yardstick known.
        t.record({ ...step(0, null) }, 10);
        expect(t.snapshot(10, 9).speedupEstimate).toBeCloseTo(1, 9);
    });
});
