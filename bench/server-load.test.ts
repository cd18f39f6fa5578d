import { expect, it } from "vitest";
import { describeWithStories } from "../native-models/testing/stories.ts";
import { runServerBurst, runServerLoad } from "./server-load.ts";

describeWithStories("the server load test", (storiesPath) => {
    it("checks every streamed response whole and correct and reports throughput", async () => {
        const result = await runServerLoad({ modelPath: storiesPath, clients: 3, requestsPerClient: 2, maxTokens: 8 });
        expect(result.failures).toEqual([]);
        expect(result.ok).toBe(6);
        expect(result.latencyMs.p95).toBeGreaterThan(0);
        expect(result.tokensPerSecond).toBeGreaterThan(0);
    });

    it("answers a burst beyond the queue with whole answers or proper 503s, streamed or not", async () => {
        const result = await runServerBurst({ modelPath: storiesPath, requests: 16, maxTokens: 8, maxQueue: 3 });
        expect(result.failures).toEqual([]);
        expect(result.ok + result.busy).toBe(16);
        expect(result.ok).toBeGreaterThanOrEqual(4);
        expect(result.busy).toBeGreaterThan(0);
    });
});
