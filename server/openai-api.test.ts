import { request as httpRequest } from "node:http";
import OpenAI from "openai";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeWithStories } from "../native-models/testing/stories.ts";
import type { GenerationRecord } from "../core/generation-service.ts";
import { startTestServer, type TestServer } from "./testing/test-server.ts";
import { rawRequest, type RawResponse } from "./testing/raw-request.ts";

const raw = rawRequest;

describeWithStories("the OpenAI-compatible API", (storiesPath) => {
    let server: TestServer;
    let client: OpenAI;

    beforeAll(async () => {
        server = await startTestServer({ modelFiles: [storiesPath], services: { calibrate: true, maxWaiting: 1 } });
        client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
    });
    afterAll(() => server?.dispose());

    const finished = () => new Promise<GenerationRecord>((resolve) => server.services.generation.once("finished", resolve));

    it("lists the loaded model", async () => {
        const list = await client.models.list();
        expect(list.data.map((m) => m.id)).toEqual(["stories260K"]);
        expect((await client.models.retrieve("stories260K")).owned_by).toBe("presage");
    });

    it("answers a chat completion with usage and a consistent speculative object", async () => {
        const done = finished();
        const res = await client.chat.completions.create({
            model: "stories260K",
            messages: [{ role: "user", content: "Once upon a time there was a girl named Lily. Lily" }],
            max_tokens: 40,
            temperature: 0,
            // @ts-expect-error Presage's extra field
            strategies: ["ngram"]
        });
        const record = await done;
        const spec = (res as unknown as { speculative: Record<string, number> & { strategies: string[] } }).speculative;
        expect(res.object).toBe("chat.completion");
        expect(res.choices[0]!.message.content!.length).toBeGreaterThan(0);
        expect(["stop", "length"]).toContain(res.choices[0]!.finish_reason);
        expect(res.usage!.completion_tokens).toBe(record.tokens);
        expect(res.usage!.total_tokens).toBe(res.usage!.prompt_tokens + res.usage!.completion_tokens);
        expect(spec.strategies).toEqual(["ngram"]);
        expect(spec.estimate).toBe(true);
        expect(spec.accepted).toBeLessThanOrEqual(spec.drafted);
        expect(spec.steps).toBeGreaterThan(0);
        // Each step adds its accepted guesses plus one token of the target's own (the last may be cut by a stop).
        expect(res.usage!.completion_tokens).toBeLessThanOrEqual(spec.accepted + spec.steps);
        expect(spec.meanAcceptedLength).toBeCloseTo(res.usage!.completion_tokens / spec.steps, 6);
        expect(typeof spec.speedupEstimate).toBe("number");
    });

    it("takes \"exact\": true per request: the answer is then plain decoding's, token for token", async () => {
        const ask = (extra: object) => client.completions.create({ model: "stories260K", prompt: "Once upon a time", max_tokens: 48, temperature: 0, ...extra } as never) as unknown as Promise<OpenAI.Completion & { speculative: { exact: boolean; baselineTokensPerSecond: number; speedupEstimate: number; tokensPerSecond: number } }>;
        const plain = await ask({ strategies: "none", exact: true });
        const spec = await ask({ strategies: "auto", exact: true });
        const loose = await ask({ strategies: "auto" });
        expect(plain.speculative.exact).toBe(true);
        expect(spec.speculative.exact).toBe(true);
        expect(loose.speculative.exact).toBe(false);
        expect(spec.choices[0]!.text).toBe(plain.choices[0]!.text);
        // Every speedup is against the fastest plain decoding measured at load.
        expect(spec.speculative.baselineTokensPerSecond).toBeGreaterThan(0);
        expect(spec.speculative.speedupEstimate).toBeCloseTo(spec.speculative.tokensPerSecond / spec.speculative.baselineTokensPerSecond, 6);
        const bad = await raw(`${server.url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ prompt: "a", exact: "yes" }) });
        expect(bad.status).toBe(400);
    });

    it("streams a chat completion that reads exactly like the unstreamed one", async () => {
        const body = { model: "stories260K", messages: [{ role: "user" as const, content: "Tell me about a cat." }], max_tokens: 48, temperature: 0, seed: 1 };
        const whole = await client.chat.completions.create(body);
        const stream = await client.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } });
        let text = "";
        let last: Record<string, unknown> | null = null;
        let usageChunk: { completion_tokens: number } | null = null;
        for await (const chunk of stream) {
            if (chunk.choices.length === 0) usageChunk = chunk.usage as { completion_tokens: number };
            else {
                text += chunk.choices[0]!.delta.content ?? "";
                if (chunk.choices[0]!.finish_reason != null) last = chunk as unknown as Record<string, unknown>;
            }
        }
        expect(text).toBe(whole.choices[0]!.message.content);
        expect(last).not.toBeNull();
        const spec = last!.speculative as { drafted: number; accepted: number };
        expect(spec.accepted).toBeLessThanOrEqual(spec.drafted);
        expect((last!.usage as { completion_tokens: number }).completion_tokens).toBe(whole.usage!.completion_tokens);
        expect(usageChunk!.completion_tokens).toBe(whole.usage!.completion_tokens);
    });

    it("continues a raw prompt (completions), streamed and not, with strategies as a comma list", async () => {
        const res = await client.completions.create({ model: "stories260K", prompt: "Once upon a time", max_tokens: 24, temperature: 0,
            // @ts-expect-error Presage's extra field
            strategies: "ngram,none" });
        expect(res.choices[0]!.text).toMatch(/^,? ?there was/i);
        expect(res.usage!.completion_tokens).toBe(24);
        expect(res.choices[0]!.finish_reason).toBe("length");
        const stream = await client.completions.create({ model: "stories260K", prompt: "Once upon a time", max_tokens: 24, temperature: 0, stream: true });
        let text = "";
        let tokens = 0;
        for await (const chunk of stream) {
            text += chunk.choices[0]?.text ?? "";
            if (chunk.usage) tokens = chunk.usage.completion_tokens;
        }
        expect(text).toBe(res.choices[0]!.text);
        expect(tokens).toBe(24);
    });

    it("refuses bad requests with documented 4xx errors and keeps answering", async () => {
        const url = `${server.url}/v1/chat/completions`;
        const json = { "content-type": "application/json" };
        const chat = JSON.stringify({ model: "stories260K", messages: [{ role: "user", content: "hi" }], max_tokens: 2 });
        const cases: [string, Parameters<typeof raw>[1], number, string][] = [
            ["malformed JSON", { method: "POST", headers: json, body: "{\"messages\": [" }, 400, "invalid_request"],
            ["oversized body", { method: "POST", headers: json, body: JSON.stringify({ messages: [{ role: "user", content: "x".repeat(1_100_000) }] }) }, 413, "payload_too_large"],
            ["wrong types", { method: "POST", headers: json, body: JSON.stringify({ messages: [{ role: "user", content: 5 }], max_tokens: "ten" }) }, 400, "invalid_request"],
            ["no messages", { method: "POST", headers: json, body: JSON.stringify({ model: "stories260K" }) }, 400, "invalid_request"],
            ["unknown strategy", { method: "POST", headers: json, body: JSON.stringify({ messages: [{ role: "user", content: "hi" }], strategies: "warp" }) }, 400, "invalid_request"],
            ["unavailable strategy", { method: "POST", headers: json, body: JSON.stringify({ messages: [{ role: "user", content: "hi" }], strategies: ["draft"] }) }, 400, "strategy_unavailable"],
            ["unknown model", { method: "POST", headers: json, body: JSON.stringify({ model: "gpt-5", messages: [{ role: "user", content: "hi" }] }) }, 404, "model_not_found"],
            ["a form post", { method: "POST", headers: { "content-type": "text/plain" }, body: chat }, 415, "unsupported_media_type"],
            ["a foreign Host", { method: "POST", headers: { ...json, host: "attacker.example:80" }, body: chat }, 403, "forbidden"],
            ["another site's page", { method: "POST", headers: { ...json, origin: "https://attacker.example" }, body: chat }, 403, "forbidden"],
            ["an unknown route", { method: "GET" }, 404, "not_found"]
        ];
        for (const [what, options, status, code] of cases) {
            const target = what === "an unknown route" ? `${server.url}/v1/nothing` : url;
            const res = await raw(target, options);
            expect({ what, status: res.status }).toEqual({ what, status });
            const body = JSON.parse(res.body) as { error: { message: string; code: string } };
            expect(body.error.code).toBe(code);
            expect(body.error.message).not.toMatch(/\n|at .*\.ts:/);
            expect(res.headers["access-control-allow-origin"]).toBeUndefined();
        }
        // A body without Content-Length is counted as it arrives.
        const chunked = await new Promise<number>((resolve, reject) => {
            const req = httpRequest(url, { method: "POST", headers: { ...json, "transfer-encoding": "chunked" } }, (res) => {
                res.resume();
                resolve(res.statusCode!);
            });
            req.on("error", reject);
            for (let i = 0; i < 12; i++) req.write("x".repeat(100_000));
            req.end();
        });
        expect(chunked).toBe(413);
        const after = await client.chat.completions.create({ model: "stories260K", messages: [{ role: "user", content: "hi" }], max_tokens: 2 });
        expect(after.usage!.completion_tokens).toBeGreaterThan(0);
    });

    it("cancels the generation when the client disconnects", async () => {
        const controller = new AbortController();
        const done = finished();
        const stream = await client.chat.completions.create(
            { model: "stories260K", messages: [{ role: "user", content: "Once upon a time" }], max_tokens: 1500, stream: true, strategies: ["none"] } as never,
            { signal: controller.signal }
        ) as unknown as AsyncIterable<unknown>;
        let chunks = 0;
        // The SDK ends the iteration quietly when its own signal aborts it.
        await (async () => {
            for await (const _ of stream) {
                chunks++;
                controller.abort();
            }
        })().catch(() => undefined);
        expect(chunks).toBeGreaterThan(0);
        const record = await done;
        expect(record.stopReason).toBe("abort");
        expect(record.tokens).toBeLessThan(1500);
    });

    it("queues requests on the single sequence and refuses more than the queue holds (503)", async () => {
        await expect.poll(() => server.services.models.queue.running).toBe(false);
        let release!: () => void;
        const gate = new Promise<void>((r) => (release = r));
        const holding = server.services.models.use(() => gate);
        const body = { model: "stories260K", messages: [{ role: "user" as const, content: "hi" }], max_tokens: 4 };
        const waiting = client.chat.completions.create(body);
        await expect.poll(() => server.services.models.queue.waiting).toBe(1);
        const refused = await raw(`${server.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
        expect(refused.status).toBe(503);
        expect(refused.headers["retry-after"]).toBe("1");
        expect(JSON.parse(refused.body).error.code).toBe("busy");
        release();
        await holding;
        expect((await waiting).usage!.completion_tokens).toBeGreaterThan(0);
    });

    it("drops a queued request whose client went away before it reaches the model", async () => {
        await expect.poll(() => server.services.models.queue.running).toBe(false);
        let release!: () => void;
        const gate = new Promise<void>((r) => (release = r));
        const holding = server.services.models.use(() => gate);
        const controller = new AbortController();
        const waiting = client.chat.completions.create({ model: "stories260K", messages: [{ role: "user", content: "hi" }], max_tokens: 4 }, { signal: controller.signal });
        await expect.poll(() => server.services.models.queue.waiting).toBe(1);
        controller.abort();
        await expect(waiting).rejects.toThrow();
        await expect.poll(() => server.services.models.queue.waiting).toBe(0);
        release();
        await holding;
    });
});

describeWithStories("the OpenAI-compatible API with an API key", (storiesPath) => {
    let server: TestServer;
    beforeAll(async () => {
        server = await startTestServer({ modelFiles: [storiesPath], apiKey: "sekrit" });
    });
    afterAll(() => server?.dispose());

    it("needs the key as a bearer token", async () => {
        const wrong = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "nope", maxRetries: 0 });
        await expect(wrong.models.list()).rejects.toMatchObject({ status: 401 });
        const right = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "sekrit", maxRetries: 0 });
        expect((await right.models.list()).data).toHaveLength(1);
    });
});

it("refuses to bind off loopback without an API key", async () => {
    await expect(startTestServer({ host: "0.0.0.0" })).rejects.toThrow(/--api-key/);
});
