import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeWithStories } from "../native-models/testing/stories.ts";
import { maxMessages } from "./openai-schemas.ts";
import { startTestServer, type TestServer } from "./testing/test-server.ts";
import { rawRequest, type RawResponse } from "./testing/raw-request.ts";

const raw = rawRequest;

const json = { "content-type": "application/json" };

/** The status and error of a refused request: a JSON body with one line of message, never an empty 200. */
function expectJsonError(res: RawResponse, status: number, code: string) {
    expect({ status: res.status, type: res.headers["content-type"] }).toEqual({ status, type: "application/json; charset=utf-8" });
    const body = JSON.parse(res.body) as { error: { message: string; code: string } };
    expect(body.error.code).toBe(code);
    expect(body.error.message).not.toMatch(/\n/);
}

describeWithStories("presage serve under hostile and careless requests", (storiesPath) => {
    let server: TestServer;

    beforeAll(async () => {
        server = await startTestServer({ modelFiles: [storiesPath], bodyTimeoutMs: 1500, maxConnections: 40, services: { maxWaiting: 1 } });
    });
    afterAll(() => server?.dispose());

    const idle = () => expect.poll(() => server.services.models.queue.running).toBe(false);

    it("answers a streamed request refused before its first token with the error's status and JSON", async () => {
        for (const path of ["/v1/completions", "/v1/chat/completions"]) {
            const body = (extra: object) => JSON.stringify({
                ...(path === "/v1/completions" ? { prompt: "a" } : { messages: [{ role: "user", content: "a" }] }), max_tokens: 2, stream: true, ...extra
            });
            // A strategy the loaded models cannot serve.
            expectJsonError(await raw(server.url + path, { method: "POST", headers: json, body: body({ strategies: "draft" }) }), 400, "strategy_unavailable");
            // A prompt longer than the context.
            const long = "once upon a time ".repeat(3000);
            expectJsonError(await raw(server.url + path, {
                method: "POST", headers: json, body: body(path === "/v1/completions" ? { prompt: long } : { messages: [{ role: "user", content: long }] })
            }), 400, "invalid_request");
            // Busy: one runs, one waits, the next is refused with Retry-After.
            await idle();
            let release!: () => void;
            const holding = server.services.models.use(() => new Promise<void>((r) => (release = r)));
            const waiting = raw(server.url + path, { method: "POST", headers: json, body: body({}) });
            await expect.poll(() => server.services.models.queue.waiting).toBe(1);
            const busy = await raw(server.url + path, { method: "POST", headers: json, body: body({}) });
            expectJsonError(busy, 503, "busy");
            expect(busy.headers["retry-after"]).toBe("1");
            release();
            await holding;
            const served = await waiting;
            expect(served.status).toBe(200);
            expect(served.body.trimEnd().endsWith("data: [DONE]")).toBe(true);
        }
    });

    it("ends a stream that fails after its first token with an error event and [DONE]", async () => {
        const generation = server.services.generation;
        const complete = generation.complete;
        // The engine fails mid-answer: its step callback throws after the first piece went out.
        generation.complete = (prompt, options = {}) => complete.call(generation, prompt, {
            ...options,
            onText: (text) => {
                options.onText?.(text);
                throw new Error("the disk caught fire");
            }
        });
        try {
            const res = await raw(`${server.url}/v1/completions`, { method: "POST", headers: json, body: JSON.stringify({ prompt: "Once upon a time", max_tokens: 16, stream: true }) });
            expect(res.status).toBe(200);
            const events = res.body.split("\n\n").filter((e) => e.includes("data:"));
            expect(JSON.parse(events[0]!.replace(/^data: /, "")).choices[0].text.length).toBeGreaterThan(0);
            expect(events.at(-2)).toMatch(/^event: error\ndata: /);
            const error = JSON.parse(events.at(-2)!.split("data: ")[1]!) as { error: { message: string; type: string; code: string } };
            expect(error.error).toMatchObject({ type: "server_error", code: "internal" });
            expect(events.at(-1)).toBe("data: [DONE]");
            // OpenAI's own client reads it as an error, not as a short answer.
            const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "none", maxRetries: 0 });
            const stream = await client.completions.create({ model: "stories260K", prompt: "Once upon a time", max_tokens: 16, stream: true });
            await expect((async () => {
                for await (const _ of stream) { /* read it all */ }
            })()).rejects.toThrow(/went wrong inside Presage/);
        } finally {
            generation.complete = complete;
        }
    });

    it("refuses an empty message list and too many messages with 400", async () => {
        for (const stream of [false, true]) {
            expectJsonError(await raw(`${server.url}/v1/chat/completions`, { method: "POST", headers: json, body: JSON.stringify({ messages: [], stream }) }), 400, "invalid_request");
            const many = Array.from({ length: maxMessages + 1 }, () => ({ role: "user", content: "hi" }));
            const res = await raw(`${server.url}/v1/chat/completions`, { method: "POST", headers: json, body: JSON.stringify({ messages: many, stream }) });
            expectJsonError(res, 400, "invalid_request");
            expect(res.body).toMatch(/at most 2048 messages/);
        }
    });

    it("keeps answering while one request carries a huge history or prompt", async () => {
        // Just under both limits: 2048 messages, ~1 MiB; and a 1 MiB raw prompt, far over the context.
        const messages = Array.from({ length: maxMessages - 1 }, (_, i) => ({ role: i % 2 === 0 ? "user" : "assistant", content: `${i} `.padEnd(440, "hi ") }));
        messages.push({ role: "user", content: "Once upon a time" });
        const requests = [
            { path: "/v1/chat/completions", body: JSON.stringify({ messages, max_tokens: 4 }), status: 200 },
            { path: "/v1/completions", body: JSON.stringify({ prompt: "once upon a time ".repeat(60_000), max_tokens: 4 }), status: 400 }
        ];
        for (const { path, body, status } of requests) {
            await idle();
            expect(body.length).toBeLessThan(1024 * 1024);
            const started = performance.now();
            const huge = raw(server.url + path, { method: "POST", headers: json, body });
            // Probe while it is being read, parsed, trimmed or counted, and answered.
            const probes: number[] = [];
            let done = false;
            void huge.finally(() => (done = true));
            while (!done && performance.now() - started < 60_000) {
                const t0 = performance.now();
                const res = await raw(`${server.url}/v1/models`);
                expect(res.status).toBe(200);
                probes.push(performance.now() - t0);
            }
            const answer = await huge;
            expect(probes.length).toBeGreaterThan(0);
            expect({ path, slowest: Math.max(...probes) < 1000 }).toEqual({ path, slowest: true });
            expect({ path, status: answer.status }).toEqual({ path, status });
            if (status === 200) expect(JSON.parse(answer.body).usage.completion_tokens).toBeGreaterThan(0);
            else expect(JSON.parse(answer.body).error.message).toMatch(/more than \d+ tokens but the context holds/);
        }
    });

    it("gives a body that does not arrive in time 408 and closes it, while a long stream stays open", async () => {
        // A long-lived stream (the app's event stream) outlives the body deadline and Node's request timeout.
        const controller = new AbortController();
        const events = await fetch(`${server.url}/api/events`, { headers: { "x-presage-token": server.token }, signal: controller.signal });
        expect(events.status).toBe(200);
        let streamEnded = false;
        void (async () => {
            for await (const _ of events.body as unknown as AsyncIterable<Uint8Array>) { /* keep reading */ }
            streamEnded = true;
        })().catch(() => undefined);

        // 20 clients that announce a body and send one chunk of it.
        const started = performance.now();
        const answers = await Promise.all(Array.from({ length: 20 }, () => new Promise<{ status: number; body: string; closedMs: number }>((resolve, reject) => {
            const req = httpRequest(`${server.url}/v1/chat/completions`, { method: "POST", headers: { ...json, "content-length": "1000" } }, (res) => {
                const chunks: Buffer[] = [];
                res.on("data", (c) => chunks.push(c));
                res.on("end", () => req.socket?.once("close", () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString(), closedMs: performance.now() - started })));
            });
            req.on("error", reject);
            req.write("{\"messages\": [");
        })));
        for (const a of answers) {
            expect(a.status).toBe(408);
            expect(JSON.parse(a.body).error.code).toBe("request_timeout");
            expect(a.closedMs).toBeLessThan(6000);
        }
        await new Promise((r) => setTimeout(r, 2000));
        expect(streamEnded).toBe(false);
        controller.abort();
        expect((await raw(`${server.url}/v1/models`)).status).toBe(200);
    });

    it("caps concurrent connections", async () => {
        const sockets: Socket[] = [];
        const closed = new Set<Socket>();
        try {
            for (let i = 0; i < 60; i++) {
                const socket = connect(server.port, "127.0.0.1");
                socket.on("close", () => closed.add(socket)).on("error", () => undefined);
                sockets.push(socket);
            }
            await Promise.all(sockets.map((s) => new Promise((r) => (s.connecting ? s.once("connect", r).once("close", r) : r(null)))));
            // The server drops what is over the cap as it arrives.
            await expect.poll(() => closed.size, { timeout: 5000 }).toBeGreaterThanOrEqual(20);
            const open = await new Promise<number>((resolve, reject) => server.server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
            expect(open).toBeLessThanOrEqual(40);
        } finally {
            for (const s of sockets) s.destroy();
        }
        await expect.poll(async () => (await raw(`${server.url}/v1/models`).catch(() => ({ status: 0 }))).status).toBe(200);
    });
});

describeWithStories("presage serve with an API key", (storiesPath) => {
    let server: TestServer;
    let page = "";

    beforeAll(async () => {
        page = mkdtempSync(join(tmpdir(), "presage-page-"));
        writeFileSync(join(page, "index.html"), `<!doctype html><html><head><meta name="presage-token" content="%PRESAGE_TOKEN%"></head><body></body></html>`);
        server = await startTestServer({ modelFiles: [storiesPath], apiKey: "sekrit", load: null, rendererDir: page });
    });
    afterAll(async () => {
        await server?.dispose();
        if (page !== "") rmSync(page, { recursive: true, force: true });
    });

    it("serves the page without the token, and /api only with the printed address's token or the key", async () => {
        const page = await raw(`${server.url}/`);
        expect(page.status).toBe(200);
        expect(page.body).toContain(`<meta name="presage-token" content="">`);
        expect(page.body).not.toContain(server.token);
        expect(server.appUrl).toBe(`${server.url}/#token=${server.token}`);

        const state = (headers: Record<string, string>) => raw(`${server.url}/api/state`, { headers });
        expectJsonError(await state({}), 401, "unauthorized");
        expectJsonError(await state({ "x-presage-token": "guess" }), 401, "unauthorized");
        expectJsonError(await state({ authorization: "Bearer wrong" }), 401, "unauthorized");
        expect((await state({ "x-presage-token": server.token })).status).toBe(200);
        expect((await state({ authorization: "Bearer sekrit" })).status).toBe(200);
        expectJsonError(await raw(`${server.url}/v1/models`), 401, "unauthorized");
        expect((await raw(`${server.url}/v1/models`, { headers: { authorization: "Bearer sekrit" } })).status).toBe(200);
    });

    it("refuses an empty key", async () => {
        await expect(startTestServer({ apiKey: "" })).rejects.toThrow(/API key is empty/);
        await expect(startTestServer({ apiKey: "  " })).rejects.toThrow(/API key is empty/);
    });
});
