import OpenAI from "openai";
import { afterAll, beforeAll, expect, it } from "vitest";
import type { AnswerEvent, ConversationWithMessages, RaceResponse } from "../core/app-api.ts";
import { describeWithStories } from "../native-models/testing/stories.ts";
import { readSseEvents } from "./testing/sse-client.ts";
import { startTestServer, type TestServer } from "./testing/test-server.ts";
import { callAppApi } from "./testing/app-api-client.ts";

interface Speculative {
    tokensPerSecond: number;
    timeToFirstTokenMs: number | null;
    promptTokens: number | null;
    promptTokensPerSecond: number | null;
    baselineTokensPerSecond: number | null;
    speedupEstimate: number | null;
    drafted: number;
}

// The numbers a user sees first, on a calibrated server: plain decoding must read as plain speed at
// every depth, the prompt's time apart from generation, and the Race's estimate close to its measurement.
describeWithStories("the speedups the window and the API show", (storiesPath) => {
    let server: TestServer;
    let client: OpenAI;

    beforeAll(async () => {
        server = await startTestServer({ modelFiles: [storiesPath], services: { calibrate: true } });
        client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
    });
    afterAll(() => server?.dispose());

    it("reads plain decoding as plain speed on every turn of a growing conversation", async () => {
        const messages: OpenAI.ChatCompletionMessageParam[] = [];
        const seen: { prompt: number; estimate: number | null }[] = [];
        for (let turn = 0; turn < 5; turn++) {
            messages.push({ role: "user", content: turn === 0 ? "Once upon a time" : "Tell me more." });
            const res = await client.chat.completions.create({
                model: "stories260K", messages, max_tokens: 200, temperature: 0,
                // @ts-expect-error Presage's extra field
                strategies: "none"
            });
            const spec = (res as unknown as { speculative: Speculative }).speculative;
            seen.push({ prompt: spec.promptTokens!, estimate: spec.speedupEstimate });
            expect(spec.drafted).toBe(0);
            expect(spec.timeToFirstTokenMs).toBeGreaterThan(0);
            expect(spec.promptTokens).toBe(res.usage!.prompt_tokens);
            expect(spec.promptTokensPerSecond).toBeGreaterThan(0);
            messages.push({ role: "assistant", content: res.choices[0]!.message.content! });
        }
        // The prompt grew past 700 tokens, where one token costs several times one at depth 32.
        expect(seen.at(-1)!.prompt).toBeGreaterThan(700);
        // The first answer after a load reads low: the engine process warms its per-step code at load,
        // yet its first answer still read 0.69-0.96 of plain speed on the 2-vCPU VM (the later ones
        // 0.90-1.10). It is held to a looser floor until that is found (issue 21's note says so).
        seen.forEach(({ estimate }, turn) => {
            expect(estimate).not.toBeNull();
            expect(estimate!).toBeGreaterThanOrEqual(turn === 0 ? 0.65 : 0.85);
            expect(estimate!).toBeLessThanOrEqual(1.15);
        });
    });

    it("stores the prompt's figures with each answer", async () => {
        const conversation = (await api<{ id: string }>("POST", "/api/conversations", {})).body;
        const res = await fetch(`${server.url}/api/conversations/${conversation.id}/messages`, {
            method: "POST",
            headers: { "x-presage-token": server.token, "content-type": "application/json", accept: "text/event-stream" },
            body: JSON.stringify({ content: "Once upon a time", strategies: ["auto"] })
        });
        const events = (await readSseEvents(res.body!)).map((e) => ({ type: e.event, ...JSON.parse(e.data) }) as AnswerEvent);
        const steps = events.filter((e) => e.type === "step").map((e) => (e as Extract<AnswerEvent, { type: "step" }>).step);
        // Each streamed step carries plain decoding's predicted time for it: the window's live estimate.
        expect(steps.slice(1).filter((s) => s.tokens.length > 0).every((s) => typeof s.plainMs === "number" && s.plainMs > 0)).toBe(true);
        expect(steps[0]!.prompt?.tokens).toBeGreaterThan(0);
        const stored = (await api<ConversationWithMessages>("GET", `/api/conversations/${conversation.id}`)).body.messages;
        const stats = stored[1]!.stats!;
        expect(stats.timeToFirstTokenMs).toBeGreaterThan(0);
        expect(stats.promptTokens).toBe(steps[0]!.prompt!.tokens);
        expect(stats.promptTokensPerSecond).toBeGreaterThan(0);
        expect(stats.speedupEstimate).toBeGreaterThan(0);
        // Generation speed counts the tokens after the first over the time after the first.
        expect(stats.tokensPerSecond).toBeGreaterThan((stats.tokens - 1) / stats.seconds);
    });

    it("gives the Race an estimate within 0.2 of the ratio it measured", async () => {
        const gaps: number[] = [];
        for (let i = 0; i < 3; i++) {
            const race = (await api<RaceResponse>("POST", "/api/race", { prompt: "Once upon a time", strategies: ["auto"], maxTokens: 200 })).body;
            expect(race.identical).toBe(true);
            gaps.push(Math.abs(race.speculative.stats.speedupEstimate! - race.speedup));
        }
        // The middle of three: one race on a shared 2-core machine can be hit by a stall.
        expect(gaps.sort((a, b) => a - b)[1]!).toBeLessThan(0.2);
    });

    const api = <T>(method: string, path: string, body?: unknown) => callAppApi<T>(server, method, path, body);
});
