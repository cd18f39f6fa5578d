import { describe, expect, it } from "vitest";
import { stepSpans } from "./step-spans.ts";

describe("stepSpans", () => {
    const base = { step: 4, drafted: 3, ms: 1 };
    it("separates accepted guesses from the target's own token when per-token text is known", () => {
        expect(stepSpans({ ...base, accepted: 2, source: "ngram", tokens: [1, 2, 3], text: "a b c", pieces: ["a", " b", " c"] })).toEqual([
            { text: "a b", source: "ngram", step: 4, kind: "guess" },
            { text: " c", source: null, step: 4, kind: "own" }
        ]);
    });
    it("colours the whole step when per-token text is missing or does not add up", () => {
        expect(stepSpans({ ...base, accepted: 1, source: "draft", tokens: [1, 2], text: "ab" })).toEqual([{ text: "ab", source: "draft", step: 4, kind: "step" }]);
        expect(stepSpans({ ...base, accepted: 1, source: "draft", tokens: [1, 2], text: "ab", pieces: ["a", "c"] })[0]!.kind).toBe("step");
    });
    it("leaves steps without accepted guesses uncoloured", () => {
        expect(stepSpans({ ...base, accepted: 0, source: "draft", tokens: [1], text: "a" })).toEqual([{ text: "a", source: null, step: 4, kind: "own" }]);
        expect(stepSpans({ ...base, accepted: 0, source: null, tokens: [1], text: "" })).toEqual([]);
    });
});
