import { describe, expect, it } from "vitest";
import { StatsRecorder } from "../../../native-models/decoding/stats.ts";
import { LiveAnswer } from "./chat-store.svelte.ts";
import type { StepEvent } from "./types.ts";

describe("the live stats of a streaming answer", () => {
    it("end within 10% of the engine's, though the stream delivers steps in 16 ms frames", () => {
        // An answer of 120 steps of 0.8 ms each after a 5 ms prompt: a tenth of a second, as the demo model streams.
        const steps: StepEvent[] = Array.from({ length: 120 }, (_, i) => ({
            step: i, drafted: 0, accepted: 0, source: null, tokens: [i], text: "x", ms: i === 0 ? 5 : 0.8,
            depth: 20 + i, plainMs: i === 0 ? null : 0.75, ...(i === 0 ? { prompt: { tokens: 20, evaluated: 20 } } : {})
        }));
        const engine = new StatsRecorder(undefined, 0);
        let t = 0;
        for (const s of steps) engine.record(s, (t += s.ms));
        const stored = engine.snapshot(t, t);

        let clock = 40; // the request reached the server 40 ms after the window sent it
        const live = new LiveAnswer(0, () => clock);
        let engineTime = 40;
        for (const s of steps) {
            engineTime += s.ms;
            // Frames: every step reaches the window at the end of its 16 ms interval.
            clock = Math.ceil(engineTime / 16) * 16 + 2;
            live.push(s);
        }
        live.flush();
        const shown = live.stats!;
        expect(Math.abs(shown.tokensPerSecond - stored.tokensPerSecond) / stored.tokensPerSecond).toBeLessThan(0.1);
        expect(Math.abs(shown.speedupEstimate! - stored.speedupEstimate!) / stored.speedupEstimate!).toBeLessThan(0.1);
        expect(shown.promptTokens).toBe(20);
        live.dispose();
    });
});
