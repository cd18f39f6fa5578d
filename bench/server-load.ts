import { availableParallelism, cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { findStoriesModel } from "../native-models/models-dir.ts";
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
function checkStream(raw: string, expected: { text: string; tokens: number }): { tokens: number; meanAcceptedLength: number } {
    const events = raw.split("\n\n").map((e) => e.trim()).filter((e) => e.startsWith("data:")).map((e) => e.slice(5).trim());
    if (events.at(-1) !== "[DONE]") throw new Error("the stream did not end with [DONE]");
    let text = "";
    type Chunk = {
        choices: { delta: { content?: string }; finish_reason: string | null }[];
        usage?: { completion_tokens: number };
        speculative?: { meanAcceptedLength: number; drafted: number; accepted: number };
    };
    let finish: Chunk | null = null;
    for (const data of events.slice(0, -1)) {
        const chunk = JSON.parse(data) as Chunk;
        const choice = chunk.choices[0];
        if (choice == null) throw new Error("a chunk without a choice");
        text += choice.delta.content ?? "";
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

// `npx tsx bench/server-load.ts [clients] [requestsPerClient] [maxTokens] [strategies]` prints the result as JSON.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
    const [clients, perClient, maxTokens] = process.argv.slice(2, 5).map(Number);
    const result = await runServerLoad({
        clients: clients || undefined, requestsPerClient: perClient || undefined, maxTokens: maxTokens || undefined, strategies: process.argv[5]
    });
    process.stdout.write(JSON.stringify(result, null, 2) + "\n");
    process.exitCode = result.failures.length === 0 ? 0 : 1;
}
