import { expect, it } from "vitest";
import { describeWithStories } from "../native-models/testing/stories.ts";
import { runServerLoad } from "./server-load.ts";

describeWithStories("the server load test", (storiesPath) => {
    it("checks every streamed response whole and correct and reports throughput", async () => {
        const result = await runServerLoad({ modelPath: storiesPath, clients: 3, requestsPerClient: 2, maxTokens: 8 });
        expect(result.failures).toEqual([]);
        expect(result.ok).toBe(6);
        expect(result.latencyMs.p95).toBeGreaterThan(0);
        expect(result.tokensPerSecond).toBeGreaterThan(0);
    });
});
