import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { findStoriesModel, packageRoot } from "../native-models/models-dir.ts";
import { startTestServer } from "../server/testing/test-server.ts";

export interface ServerLoadOptions {
    /** An OpenAI-compatible base URL (e.g. http://127.0.0.1:7745/v1); default: start one in-process on stories260K. */
    baseUrl?: string;
    apiKey?: string;
    /** Model to start the in-process server with (default stories260K from the models folder). */
    modelPath?: string;
    /** Concurrent streaming clients (default 8). */
    clients?: number;
    /** Requests per client (default 20). */
    requestsPerClient?: number;
    /** max_tokens of each request (default 32). */
    maxTokens?: number;
    /** `strategies` of each request (default "ngram"). */
    strategies?: string;
}

export interface ServerLoadResult {
    clients: number;
    requests: number;
    ok: number;
    /** Requests whose stream was not whole or not the expected answer, with why. */
    failures: string[];
    seconds: number;
    requestsPerSecond: number;
    /** Generated tokens per second over the whole run, all clients together. */
    tokensPerSecond: number;
    latencyMs: { p50: number; p95: number; max: number };
    /** Time to the first content chunk. */
    firstTokenMs: { p50: number; p95: number };
    /** Mean over responses of the `speculative` object's meanAcceptedLength. */
    meanAcceptedLength: number;
    machine: string;
}

const prompts = [
    "Once upon a time there was a little girl named Lily.",
    "Tom had a red ball. One day",
    "The sun was shining and the birds were singing.",
    "Sam and his dog went to the park."
];

/**
 * A bounded load test of the streaming chat endpoint: `clients` concurrent clients each send
 * `requestsPerClient` greedy streamed requests one after another on loopback. Every response is
 * checked whole (chunks parse, one finish chunk with usage and `speculative`, `[DONE]` last) and
 * correct (greedy: its text equals the same prompt's unstreamed answer, its token count matches
 * usage). Requests queue on the one model, so throughput is the model's and latency grows with the
 * line; that is what this measures.
 */
export async function runServerLoad(options: ServerLoadOptions = {}): Promise<ServerLoadResult> {
    const clients = options.clients ?? 8;
    const perClient = options.requestsPerClient ?? 20;
    const maxTokens = options.maxTokens ?? 32;
    const strategies = options.strategies ?? "ngram";
    let server: Awaited<ReturnType<typeof startTestServer>> | null = null;
    let baseUrl = options.baseUrl;
    if (baseUrl == null) {
        const model = options.modelPath ?? findStoriesModel();
        if (model == null) throw new Error("stories260K.gguf is not in the models folder: run `npm run models:pull` or pass modelPath.");
        // The queue must hold every client at once: this measures throughput, not refusals.
        server = await startTestServer({ modelFiles: [model], services: { maxWaiting: clients } });
        baseUrl = `${server.url}/v1`;
    }
    const headers = { "content-type": "application/json", ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}) };
    const body = (prompt: string, stream: boolean) => JSON.stringify({
        messages: [{ role: "user", content: prompt }], max_tokens: maxTokens, temperature: 0, stream, strategies
    });
    try {
        // The expected answers: greedy decoding gives the same text every time.
        const expected = new Map<string, { text: string; tokens: number }>();
        for (const prompt of prompts) {
            const res = await fetch(`${baseUrl}/chat/completions`, { method: "POST", headers, body: body(prompt, false) });
            const json = await res.json() as { choices: { message: { content: string } }[]; usage: { completion_tokens: number } };
            expected.set(prompt, { text: json.choices[0]!.message.content, tokens: json.usage.completion_tokens });
        }
        const latencies: number[] = [];
        const firsts: number[] = [];
        const failures: string[] = [];
        const accepted: number[] = [];
        let tokens = 0;
        const started = performance.now();
        await Promise.all(Array.from({ length: clients }, async (_, client) => {
            for (let i = 0; i < perClient; i++) {
                const prompt = prompts[(client + i) % prompts.length]!;
                const t0 = performance.now();
                let first = 0;
                try {
                    const res = await fetch(`${baseUrl}/chat/completions`, { method: "POST", headers, body: body(prompt, true) });
                    if (res.status !== 200) throw new Error(`status ${res.status}: ${await res.text()}`);
                    const raw = await readAll(res.body!, () => (first ||= performance.now() - t0));
                    const check = checkStream(raw, expected.get(prompt)!);
                    tokens += check.tokens;
                    accepted.push(check.meanAcceptedLength);
                    latencies.push(performance.now() - t0);
                    firsts.push(first);
                } catch (err) {
                    failures.push(`client ${client} request ${i}: ${(err as Error).message.split("\n")[0]}`);
                }
            }
        }));
        const seconds = (performance.now() - started) / 1000;
        const requests = clients * perClient;
        return {
            clients,
            requests,
            ok: requests - failures.length,
            failures,
            seconds,
            requestsPerSecond: (requests - failures.length) / seconds,
            tokensPerSecond: tokens / seconds,
            latencyMs: { p50: percentile(latencies, 50), p95: percentile(latencies, 95), max: Math.max(0, ...latencies) },
            firstTokenMs: { p50: percentile(firsts, 50), p95: percentile(firsts, 95) },
            meanAcceptedLength: accepted.length ? accepted.reduce((a, b) => a + b, 0) / accepted.length : 0,
            machine: `${cpus()[0]?.model ?? "cpu"}, ${availableParallelism()} cores, Node ${process.versions.node}`
        };
    } finally {
        await server?.dispose();
    }
}

async function readAll(body: ReadableStream<Uint8Array>, onFirstChunk: () => void): Promise<string> {
    const decoder = new TextDecoder();
    let text = "";
    for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        // The server sends its first bytes with the first piece of the answer.
        onFirstChunk();
        text += decoder.decode(chunk, { stream: true });
    }
    return text + decoder.decode();
}

/** Checks one streamed response: whole, well-formed, and the expected greedy answer. */
function checkStream(raw: string, expected: { text: string; tokens: number }, kind: "chat" | "completion" = "chat"): { tokens: number; meanAcceptedLength: number } {
    const blocks = raw.split("\n\n").map((e) => e.trim());
    const failed = blocks.find((e) => e.startsWith("event: error"));
    if (failed != null) throw new Error(`the stream ended with an error event: ${failed.slice(0, 160).replace(/\s+/g, " ")}`);
    const events = blocks.filter((e) => e.startsWith("data:")).map((e) => e.slice(5).trim());
    if (events.at(-1) !== "[DONE]") throw new Error("the stream did not end with [DONE]");
    let text = "";
    type Chunk = {
        choices: { delta?: { content?: string }; text?: string; finish_reason: string | null }[];
        error?: { message: string };
        usage?: { completion_tokens: number };
        speculative?: { meanAcceptedLength: number; drafted: number; accepted: number };
    };
    let finish: Chunk | null = null;
    for (const data of events.slice(0, -1)) {
        const chunk = JSON.parse(data) as Chunk;
        if (chunk.error != null) throw new Error(`the stream ended with an error: ${chunk.error.message}`);
        const choice = chunk.choices[0];
        if (choice == null) throw new Error("a chunk without a choice");
        text += (kind === "chat" ? choice.delta?.content : choice.text) ?? "";
        if (choice.finish_reason != null) {
            if (finish != null) throw new Error("two finish chunks");
            finish = chunk;
        }
    }
    if (finish?.usage == null || finish.speculative == null) throw new Error("no finish chunk with usage and speculative");
    if (text !== expected.text) throw new Error(`the answer differs from the unstreamed one: ${JSON.stringify(text.slice(0, 60))}`);
    if (finish.usage.completion_tokens !== expected.tokens) throw new Error(`usage says ${finish.usage.completion_tokens} tokens, expected ${expected.tokens}`);
    if (finish.speculative.accepted > finish.speculative.drafted) throw new Error("accepted more guesses than were drafted");
    return { tokens: finish.usage.completion_tokens, meanAcceptedLength: finish.speculative.meanAcceptedLength };
}

function percentile(values: number[], p: number): number {
    if (values.length === 0) return 0;
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export interface ServerBurstOptions {
    /** An OpenAI-compatible base URL of a running `presage serve`; default: start `presage serve` on stories260K. */
    baseUrl?: string;
    apiKey?: string;
    /** Model for the server started here (default stories260K). */
    modelPath?: string;
    /** `--max-queue` of the server started here (default 16, the server's default). */
    maxQueue?: number;
    /** Requests sent at once (default 40): alternately streamed and not, chat and raw completions. */
    requests?: number;
    /** max_tokens of each request (default 32). */
    maxTokens?: number;
    /** `strategies` of each request (default "ngram"). */
    strategies?: string;
}

export interface ServerBurstResult {
    requests: number;
    streamed: number;
    /** Answers that were whole and equal to the same request's greedy answer asked alone. */
    ok: number;
    /** Refusals that were a proper 503: JSON error "busy" with Retry-After (streamed requests included). */
    busy: number;
    /** Anything else (an empty 200, a cut stream, a wrong answer, a 503 without Retry-After), with why. */
    failures: string[];
    seconds: number;
    latencyMs: { p50: number; p95: number; max: number };
    machine: string;
}

/**
 * A burst against `presage serve`: `requests` requests at once, half streamed, half chat and half raw
 * completions, more than the queue holds. Every answer must be either whole and correct (the greedy
 * answer the same request gets alone; for streams: well-formed chunks, one finish chunk, [DONE] last)
 * or a proper refusal: 503 with Retry-After and a JSON "busy" error, never an empty or cut answer.
 */
export async function runServerBurst(options: ServerBurstOptions = {}): Promise<ServerBurstResult> {
    const count = options.requests ?? 40;
    const maxTokens = options.maxTokens ?? 32;
    const strategies = options.strategies ?? "ngram";
    let serve: { url: string; stop: () => Promise<void> } | null = null;
    let baseUrl = options.baseUrl;
    if (baseUrl == null) {
        const model = options.modelPath ?? findStoriesModel();
        if (model == null) throw new Error("stories260K.gguf is not in the models folder: run `npm run models:pull` or pass modelPath.");
        serve = await startServe(model, options.maxQueue ?? 16);
        baseUrl = `${serve.url}/v1`;
    }
    const headers = { "content-type": "application/json", ...(options.apiKey ? { authorization: `Bearer ${options.apiKey}` } : {}) };
    type Kind = { chat: boolean; stream: boolean; prompt: string };
    const kinds: Kind[] = Array.from({ length: count }, (_, i) => ({ chat: i % 4 < 2, stream: i % 2 === 1, prompt: prompts[Math.floor(i / 4) % prompts.length]! }));
    const send = (k: Kind) => fetch(`${baseUrl}/${k.chat ? "chat/completions" : "completions"}`, {
        method: "POST",
        headers,
        body: JSON.stringify({
            ...(k.chat ? { messages: [{ role: "user", content: k.prompt }] } : { prompt: k.prompt }),
            max_tokens: maxTokens, temperature: 0, stream: k.stream, strategies
        })
    });
    try {
        // The expected answers, each asked alone: greedy decoding gives the same text every time.
        const expected = new Map<string, { text: string; tokens: number }>();
        for (const k of kinds) {
            const key = `${k.chat}:${k.prompt}`;
            if (expected.has(key)) continue;
            const res = await send({ ...k, stream: false });
            if (res.status !== 200) throw new Error(`the answer alone failed: ${res.status} ${await res.text()}`);
            const json = await res.json() as { choices: { message?: { content: string }; text?: string }[]; usage: { completion_tokens: number } };
            expected.set(key, { text: json.choices[0]!.message?.content ?? json.choices[0]!.text!, tokens: json.usage.completion_tokens });
        }
        let ok = 0, busy = 0;
        const failures: string[] = [];
        const latencies: number[] = [];
        const started = performance.now();
        await Promise.all(kinds.map(async (k, i) => {
            const t0 = performance.now();
            const what = `request ${i} (${k.stream ? "streamed" : "whole"} ${k.chat ? "chat" : "completion"})`;
            try {
                const res = await send(k);
                const body = await res.text();
                if (res.status === 503) {
                    const error = (JSON.parse(body) as { error?: { code?: string } }).error;
                    if (res.headers.get("retry-after") == null) throw new Error("503 without Retry-After");
                    if (!/^application\/json/.test(res.headers.get("content-type") ?? "") || error?.code !== "busy") throw new Error(`503 without a JSON busy error: ${body.slice(0, 80)}`);
                    busy++;
                    return;
                }
                if (res.status !== 200) throw new Error(`status ${res.status}: ${body.slice(0, 120)}`);
                const want = expected.get(`${k.chat}:${k.prompt}`)!;
                if (k.stream) checkStream(body, want, k.chat ? "chat" : "completion");
                else {
                    const json = JSON.parse(body) as { choices: { message?: { content: string }; text?: string; finish_reason: string }[]; usage: { completion_tokens: number } };
                    const text = json.choices[0]?.message?.content ?? json.choices[0]?.text;
                    if (text !== want.text) throw new Error(`the answer differs from the one asked alone: ${JSON.stringify(String(text).slice(0, 60))}`);
                    if (json.usage.completion_tokens !== want.tokens) throw new Error(`usage says ${json.usage.completion_tokens} tokens, expected ${want.tokens}`);
                }
                ok++;
                latencies.push(performance.now() - t0);
            } catch (err) {
                failures.push(`${what}: ${(err as Error).message.split("\n")[0]}`);
            }
        }));
        return {
            requests: count,
            streamed: kinds.filter((k) => k.stream).length,
            ok,
            busy,
            failures,
            seconds: (performance.now() - started) / 1000,
            latencyMs: { p50: percentile(latencies, 50), p95: percentile(latencies, 95), max: Math.max(0, ...latencies) },
            machine: `${cpus()[0]?.model ?? "cpu"}, ${availableParallelism()} cores, Node ${process.versions.node}`
        };
    } finally {
        await serve?.stop();
    }
}

/** `presage serve` as its own process on a free port, with a fresh database, until stopped. */
async function startServe(model: string, maxQueue: number): Promise<{ url: string; token: string; stop: () => Promise<void> }> {
    const dir = mkdtempSync(join(tmpdir(), "presage-burst-"));
    const child = spawn(process.execPath, [join(packageRoot, "bin", "presage.js"), "serve", "--port", "0", "--json", "--no-build", "--model", model,
        "--db", join(dir, "presage.db"), "--threads", "1", "--max-queue", String(maxQueue)], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, PRESAGE_DATA_DIR: dir } });
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    const stop = async () => {
        child.kill("SIGTERM");
        await exited;
        rmSync(dir, { recursive: true, force: true });
    };
    try {
        const { url, token } = await new Promise<{ url: string; token: string }>((resolve, reject) => {
            let out = "", err = "";
            child.stdout.on("data", (d) => {
                out += d;
                const line = out.split("\n").find((l) => l.startsWith("{"));
                if (line != null) resolve(JSON.parse(line) as { url: string; token: string });
            });
            child.stderr.on("data", (d) => (err += d));
            void exited.then((code) => reject(new Error(`presage serve exited with ${code}: ${err.trim()}`)));
        });
        return { url, token, stop };
    } catch (err) {
        await stop();
        throw err;
    }
}

export interface ConversationBurstResult {
    /** Messages sent at once to the one conversation, per round. */
    messages: number;
    rounds: number;
    /** Messages answered (stream ended with "done"). */
    answered: number;
    /** Messages refused with 409 "conflict" (the one-answer-per-conversation rule), storing nothing. */
    refused: number;
    /** The stored roles, in order, after the last round. */
    stored: string[];
    /** Anything else: another status, a stream without "done", a stored conversation that does not alternate. */
    failures: string[];
    seconds: number;
    machine: string;
}

/**
 * The per-conversation burst: `messages` messages at once to one conversation of `presage serve`'s
 * app API, `rounds` times (two windows on one conversation, or a client that retries). Each message
 * must be answered or refused with a JSON 409, and what is stored must alternate user, assistant,
 * one answer per message, with no answer holding others as versions.
 */
export async function runConversationBurst(options: { modelPath?: string; messages?: number; rounds?: number; maxTokens?: number } = {}): Promise<ConversationBurstResult> {
    const count = options.messages ?? 5;
    const rounds = options.rounds ?? 3;
    const model = options.modelPath ?? findStoriesModel();
    if (model == null) throw new Error("stories260K.gguf is not in the models folder: run `npm run models:pull` or pass modelPath.");
    const serve = await startServe(model, 16);
    const headers = { "content-type": "application/json", "x-presage-token": serve.token };
    const call = async (method: string, path: string, body?: unknown) => {
        const res = await fetch(`${serve.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
        if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
        return res.status === 204 ? undefined : res.json();
    };
    try {
        await call("PUT", "/api/settings", { sampling: { maxTokens: options.maxTokens ?? 24 } });
        const { id } = await call("POST", "/api/conversations", {}) as { id: string };
        let answered = 0, refused = 0;
        const failures: string[] = [];
        const started = performance.now();
        for (let round = 0; round < rounds; round++) {
            await Promise.all(Array.from({ length: count }, async (_, i) => {
                const what = `round ${round} message ${i}`;
                try {
                    const res = await fetch(`${serve.url}/api/conversations/${id}/messages`, { method: "POST", headers: { ...headers, accept: "text/event-stream" }, body: JSON.stringify({ content: `m${round}.${i}` }) });
                    const body = await res.text();
                    if (res.status === 409) {
                        if ((JSON.parse(body) as { error?: { code?: string } }).error?.code !== "conflict") throw new Error(`409 without a JSON conflict error: ${body.slice(0, 80)}`);
                        refused++;
                        return;
                    }
                    if (res.status !== 200) throw new Error(`status ${res.status}: ${body.slice(0, 120)}`);
                    if (!/^event: done$/m.test(body)) throw new Error(`the stream ended without "done": ${body.slice(-120)}`);
                    answered++;
                } catch (err) {
                    failures.push(`${what}: ${(err as Error).message.split("\n")[0]}`);
                }
            }));
        }
        const { messages } = await call("GET", `/api/conversations/${id}`) as { messages: { role: string; versions?: { ids: string[] } | null }[] };
        const stored = messages.map((m) => m.role);
        stored.forEach((role, i) => {
            if (role !== (i % 2 === 0 ? "user" : "assistant")) failures.push(`stored message ${i} is "${role}": the conversation does not alternate (${stored.join(" ")})`);
        });
        if (stored.length !== 2 * answered) failures.push(`${stored.length} messages stored for ${answered} answered`);
        for (const m of messages) if ((m.versions?.ids.length ?? 0) > 1) failures.push("an answer holds other answers as versions");
        return { messages: count, rounds, answered, refused, stored, failures, seconds: (performance.now() - started) / 1000, machine: `${cpus()[0]?.model ?? "cpu"}, ${availableParallelism()} cores, Node ${process.versions.node}` };
    } finally {
        await serve.stop();
    }
}

// `npx tsx bench/server-load.ts [clients] [requestsPerClient] [maxTokens] [strategies]` prints the result as JSON;
// `npx tsx bench/server-load.ts burst [requests] [maxTokens] [maxQueue]` runs the burst against `presage serve`;
// `npx tsx bench/server-load.ts conversation-burst [messages] [rounds]` sends messages at once to one conversation.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
    if (process.argv[2] === "conversation-burst") {
        const [messages, rounds] = process.argv.slice(3, 5).map(Number);
        const result = await runConversationBurst({ messages: messages || undefined, rounds: rounds || undefined });
        process.stdout.write(JSON.stringify(result, null, 2) + "\n");
        process.exitCode = result.failures.length === 0 ? 0 : 1;
    } else if (process.argv[2] === "burst") {
        const [requests, maxTokens, maxQueue] = process.argv.slice(3, 6).map(Number);
        const result = await runServerBurst({ requests: requests || undefined, maxTokens: maxTokens || undefined, maxQueue: maxQueue || undefined });
        process.stdout.write(JSON.stringify(result, null, 2) + "\n");
        process.exitCode = result.failures.length === 0 ? 0 : 1;
    } else {
        const [clients, perClient, maxTokens] = process.argv.slice(2, 5).map(Number);
        const result = await runServerLoad({
            clients: clients || undefined, requestsPerClient: perClient || undefined, maxTokens: maxTokens || undefined, strategies: process.argv[5]
        });
        process.stdout.write(JSON.stringify(result, null, 2) + "\n");
        process.exitCode = result.failures.length === 0 ? 0 : 1;
    }
}
