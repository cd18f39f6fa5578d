import { describe, expect, it } from "vitest";
import { createGovernorMemory, SpeculationGovernor } from "./speculation-governor.ts";

/** Runs `steps` steps where guessing yields `guessTokens` a step in `guessMs` and a plain step 1 token in 1 ms. */
function run(governor: SpeculationGovernor, steps: number, guessTokens: number, guessMs: number): { guessed: number } {
    let guessed = 0;
    for (let i = 0; i < steps; i++) {
        if (governor.shouldGuess()) {
            guessed++;
            governor.record(guessTokens, guessMs);
        } else governor.record(1, 1);
    }
    return { guessed };
}

describe("SpeculationGovernor", () => {
    it("keeps guessing while it is faster than plain steps, measuring plain steps now and then", () => {
        const g = new SpeculationGovernor();
        // 1.5 tokens in 1.2 ms: 0.8 ms a token against 1 ms.
        const { guessed } = run(g, 2000, 1.5, 1.2);
        expect(guessed / 2000).toBeGreaterThan(0.95);
        expect(g.rates().plain).toBeCloseTo(1, 5);
        expect(g.rates().guessing).toBeCloseTo(0.8, 5);
    });

    it("switches to plain steps when guessing is slower, backing off longer each time it loses", () => {
        const memory = createGovernorMemory();
        const g = new SpeculationGovernor(memory);
        // 1.05 tokens in 1.3 ms: guessing loses by a fifth.
        const first = run(g, 200, 1.05, 1.3);
        expect(memory.backoff).toBeGreaterThan(0);
        const later = run(g, 4000, 1.05, 1.3);
        // Each probe is one window of 32 steps after back-offs of 64, 128, … 2048 plain steps.
        expect(later.guessed / 4000).toBeLessThan(0.06);
        expect(first.guessed).toBeLessThan(200);
        expect(memory.backoff).toBe(2048);
    });

    it("does not back off on a few steps that lose by less than their spread, but on many", () => {
        const memory = createGovernorMemory();
        const g = new SpeculationGovernor(memory);
        // Guessing steps alternate 3 tokens and 1, each in 2.1 ms: 5% slower than 1 ms a plain token.
        let guessingSteps = 0;
        let firstBackoffAt = -1;
        for (let i = 0; i < 600 && firstBackoffAt < 0; i++) {
            if (g.shouldGuess()) g.record(guessingSteps++ % 2 === 0 ? 3 : 1, 2.1);
            else g.record(1, 1);
            if (memory.phase === "backoff") firstBackoffAt = guessingSteps;
        }
        // Not after the first window of 32 (the spread of 32 such steps is twice the loss)...
        expect(firstBackoffAt).toBeGreaterThan(32);
        // ...but once enough steps show it.
        expect(firstBackoffAt).toBeGreaterThan(0);
        expect(firstBackoffAt).toBeLessThan(300);
    });

    it("costs under 1% on a source that is about even (slightly slower, noisily)", () => {
        // Each guessing step yields 2 tokens with probability 0.3, else 1, in `ms`: 2–5% slower than 1 ms
        // a plain token, and a window of 32 such steps is faster by chance a third of the time. Were a
        // chance win to reset the back-off, it would be probed at the shortest one for good.
        for (const ms of [1.33, 1.36]) {
            const g = new SpeculationGovernor(createGovernorMemory());
            let seed = 12345;
            const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
            let tokens = 0;
            let elapsed = 0;
            for (let i = 0; i < 40_000; i++) {
                const guessing = g.shouldGuess();
                const t = guessing && random() < 0.3 ? 2 : 1;
                g.record(t, guessing ? ms : 1);
                tokens += t;
                elapsed += guessing ? ms : 1;
            }
            expect(tokens / elapsed, `guessing steps of ${ms} ms`).toBeGreaterThan(0.993);
        }
    });

    it("is not fooled by a plain step caught by a collection or the scheduler", () => {
        const memory = createGovernorMemory();
        const g = new SpeculationGovernor(memory);
        // The first plain window: one of its 8 steps stalls for 50 ms.
        let plainSteps = 0;
        while (plainSteps < 8) {
            if (g.shouldGuess()) g.record(1.05, 1.3);
            else g.record(1, plainSteps++ === 3 ? 50 : 1);
        }
        // Guessing still loses against the plain steps as they usually are: the next window backs off.
        run(g, 40, 1.05, 1.3);
        expect(memory.backoff).toBeGreaterThan(0);
        expect(g.rates().plain).toBe(1);
    });

    it("comes back to guessing when the text turns its way", () => {
        const memory = createGovernorMemory();
        const g = new SpeculationGovernor(memory);
        run(g, 3000, 1, 1.5);
        expect(memory.backoff).toBeGreaterThan(0);
        // Now guesses pay (3 tokens a step): the next probe wins and the back-off is reset.
        const { guessed } = run(g, 6000, 3, 1.2);
        expect(memory.backoff).toBe(0);
        expect(guessed / 6000).toBeGreaterThan(0.5);
        const after = run(g, 1000, 3, 1.2);
        expect(after.guessed / 1000).toBeGreaterThan(0.95);
    });

    it("judges each probe on its own steps, not on the losing ones before it", () => {
        const memory = createGovernorMemory();
        const g = new SpeculationGovernor(memory);
        run(g, 3000, 1, 3);
        // Drive to the start of the next guessing window.
        while (!g.shouldGuess()) g.record(1, 1);
        expect(memory.guessing.tokens).toBe(0);
        run(g, 32, 2, 1);
        expect(memory.phase).toBe("guessing");
    });

    it("on a slow model, drops a strategy that does not pay within about two seconds, and probes again within one", () => {
        const memory = createGovernorMemory();
        const g = new SpeculationGovernor(memory);
        // 130 ms a plain token; guessing yields 1.1 tokens in 190 ms.
        let elapsed = 0;
        while (memory.phase !== "backoff") {
            const guessing = g.shouldGuess();
            g.record(guessing ? 1.1 : 1, guessing ? 190 : 130);
            elapsed += guessing ? 190 : 130;
        }
        expect(elapsed).toBeLessThan(2200);
        let plain = 0;
        while (!g.shouldGuess()) {
            g.record(1, 130);
            plain += 130;
        }
        expect(plain).toBeGreaterThanOrEqual(1000);
        expect(plain).toBeLessThan(1200);
    });

    it("learns from the steps it is told about, across decoders that share its memory", () => {
        const memory = createGovernorMemory();
        run(new SpeculationGovernor(memory), 300, 1, 2);
        // A new answer's governor starts where the last one left off: still backed off.
        const next = new SpeculationGovernor(memory);
        expect(run(next, 64, 1, 2).guessed).toBeLessThan(64);
    });

    it("backs off from guessing whose guesses add no token, even where its steps time like plain ones", () => {
        const memory = createGovernorMemory();
        // Lookups that find nothing: one token a step, as fast as a plain step (to the timer's resolution).
        const { guessed } = run(new SpeculationGovernor(memory), 2000, 1, 1);
        expect(memory.backoff).toBeGreaterThan(0);
        expect(guessed / 2000).toBeLessThan(0.15);
    });
});
