import { describe, expect, it } from "vitest";
import { LiveReasoning, reasoningSummary } from "./live-reasoning.ts";

describe("LiveReasoning", () => {
    it("counts the reasoning steps' text, tokens and time until the answer starts", () => {
        const live = new LiveReasoning();
        expect(live.snapshot()).toBeNull();
        live.record({ reasoning: "Weigh", text: "", tokens: [1] }, 100);
        expect(live.snapshot()).toEqual({ text: "Weigh", tokens: 1, ms: 0, active: true });
        live.record({ reasoning: " both.", text: "", tokens: [2, 3] }, 400);
        expect(live.snapshot()).toEqual({ text: "Weigh both.", tokens: 3, ms: 300, active: true });
        // The step that closes the block: its last reasoning and the answer's first words.
        live.record({ reasoning: "", text: "9.9", tokens: [4, 5] }, 500);
        expect(live.snapshot()).toEqual({ text: "Weigh both.", tokens: 5, ms: 400, active: false });
        live.record({ text: " is larger.", tokens: [6] }, 900);
        expect(live.snapshot()).toEqual({ text: "Weigh both.", tokens: 5, ms: 400, active: false });
    });

    it("has none for an answer without reasoning", () => {
        const live = new LiveReasoning();
        live.record({ text: "Hello", tokens: [1] }, 10);
        live.record({ text: " there", tokens: [2] }, 20);
        expect(live.snapshot()).toBeNull();
    });

    it("says how long it thought, in tokens and time", () => {
        expect(reasoningSummary({ tokens: 42, ms: 1340, active: true })).toBe("Thinking… 42 tokens · 1.3 s");
        expect(reasoningSummary({ tokens: 42, ms: 1340 })).toBe("Thought for 1.3 s · 42 tokens");
        expect(reasoningSummary({ tokens: 1, ms: 250 })).toBe("Thought for 0.25 s · 1 token");
        expect(reasoningSummary({ tokens: 900, ms: 75_000 })).toBe("Thought for 1 min 15 s · 900 tokens");
        expect(reasoningSummary({ tokens: 64, ms: 2000, ended: false })).toBe("Stopped while thinking · 64 tokens · 2.0 s");
    });
});
