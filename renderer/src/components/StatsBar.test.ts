import { fireEvent, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { FakeApi, sampleSteps, statsOf } from "../testing/fake-api.ts";
import { renderWith } from "../testing/render-with.ts";
import StatsBar from "./StatsBar.svelte";

describe("StatsBar", () => {
    it("shows speed, the estimated speedup, accepted guesses and a per-step chart", async () => {
        const steps = sampleSteps();
        await renderWith(StatsBar, { stats: statsOf(steps), steps });
        expect(screen.getByTestId("stats-tokens-per-second").textContent).toBe("120");
        expect(screen.getByTestId("stats-speedup").textContent).toBe("1.20× faster");
        expect(screen.getByText("estimate")).toBeTruthy();
        expect(screen.getByTestId("stats-accepted").textContent).toBe("3/5");
        expect(screen.getByText("2.00")).toBeTruthy();
        const chart = screen.getByRole("img");
        expect(chart.getAttribute("aria-label")).toContain("3 steps");
        expect(chart.querySelectorAll("rect")).toHaveLength(3);
    });

    it("breaks the guesses down by source", async () => {
        const steps = sampleSteps();
        await renderWith(StatsBar, { stats: statsOf(steps), steps });
        await fireEvent.click(screen.getByLabelText("Speed details"));
        expect(screen.getByTestId("stats-source-ngram").textContent).toContain("N-gram");
        expect(screen.getByTestId("stats-source-ngram").textContent).toContain("33%");
        expect(screen.getByTestId("stats-source-draft").textContent).toContain("Draft model");
        expect(screen.queryByTestId("stats-source-retrieval")).toBeNull();
    });

    it("races for the exact speedup", async () => {
        const api = new FakeApi();
        const steps = sampleSteps();
        await renderWith(StatsBar, { stats: statsOf(steps), steps, race: { prompt: "Once", strategies: ["ngram"], maxTokens: 64 } }, api);
        await fireEvent.click(screen.getByRole("button", { name: /race plain decoding/i }));
        await waitFor(() => expect(screen.getByTestId("stats-race").textContent).toContain("1.80× faster"));
        expect(screen.getByTestId("stats-race").textContent).toContain("same text");
        expect(api.callsOf("race")[0]).toEqual([{ prompt: "Once", strategies: ["ngram"], maxTokens: 64 }]);
    });

    it("shows dashes, not zeros, before anything is known", async () => {
        await renderWith(StatsBar, { stats: null, steps: [], live: true });
        expect(screen.getByTestId("stats-tokens-per-second").textContent).toBe("–");
        expect(screen.getByTestId("stats-speedup").textContent).toBe("–");
        expect(screen.queryByRole("button", { name: /race/i })).toBeNull();
    });

    it("says in words when no guess paid, and shows the prompt's time beside the speed", async () => {
        const steps = sampleSteps().map((s) => ({ ...s, drafted: 0, accepted: 0, source: null }));
        const stats = { ...statsOf(steps), drafted: 0, accepted: 0, speedupEstimate: 0.97, timeToFirstTokenMs: 12.4, promptTokens: 253 };
        await renderWith(StatsBar, { stats, steps, guessing: true });
        expect(screen.getByTestId("stats-speedup").textContent!.trim()).toBe("plain speed: no guess pays on this model here");
        expect(screen.getByTestId("stats-ttft").textContent!.trim()).toBe("first token 12 ms · prompt 253");
    });

    it("explains a speedup that cannot be known instead of showing a wrong one", async () => {
        const steps = sampleSteps();
        await renderWith(StatsBar, { stats: { ...statsOf(steps), baselineTokensPerSecond: null, speedupEstimate: null }, steps });
        expect(screen.getByTestId("stats-speedup").textContent).toBe("–");
        expect(screen.getByTestId("stats-speedup").parentElement!.getAttribute("title")).toMatch(/No plain speed is known/);
    });
});
