import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { ChatSession } from "../native-models/chat/chat-session.ts";
import { PresageEngine } from "../native-models/engine/presage-engine.ts";
import { findStoriesModel } from "../native-models/models-dir.ts";
import { startTestServer } from "../server/testing/test-server.ts";
import { median, spread, type Spread } from "./bench.ts";

interface Timing {
    ms: number;
    /** null where no text was made (the engine alone). */
    firstMs: number | null;
    tokens: number;
}

/** One way of asking for an answer, measured in every round. */
export type ChatPathLane = "engine" | "generate" | "generateChat" | "completion" | "chat" | "window" | "generateChatPlain" | "windowAuto";

export interface ChatPathLaneResult {
    /** Median over rounds, whole answer: from the request (the call) to the end of the stream. */
    tokensPerSecond: number;
    /** Median over rounds: from the request to the first streamed text (null for the engine alone, which makes none). */
    firstTokenMs: number | null;
}

export interface ChatPathResult {
    model: string;
    strategy: string;
    tokens: number;
    rounds: number;
    /**
     * engine: `PresageEngine.generate`, no text streamed. generate: `presage generate`'s path, the
     * engine streaming its text. generateChat: `presage generate --chat`'s, the model's chat template
     * through ChatSession. completion, chat: streamed `/v1/completions` and `/v1/chat/completions`,
     * client clock. window: a new conversation's message over the app API's answer stream (stored).
     * generateChatPlain: `presage generate --chat --strategy none`; windowAuto: the window's answer with
     * Auto, the default a user gets.
     */
    lanes: Record<ChatPathLane, ChatPathLaneResult>;
    /** Whole-answer tokens per second, per round: completion ÷ generate, chat and window ÷ generateChat. */
    ratios: { completion: Spread; chat: Spread; window: Spread; windowAutoVsPlain: Spread };
}

/**
 * Does the chat path keep the engine's speed? The same model, strategy and length through `presage
 * serve`'s streamed APIs and straight through the engine, interleaved round by round. The client runs
 * in a process of its own, as the window (Chromium) and API clients do, so its parsing is not charged
 * to the server's event loop. On stories260K a token takes well under a millisecond, so any per-token
 * cost of the path shows.
 */
export async function measureChatPath({ rounds = 31, maxTokens = 200, strategy = "ngram" } = {}): Promise<ChatPathResult> {
    const modelPath = findStoriesModel();
    if (modelPath == null) throw new Error("stories260K.gguf is missing");
    const prompt = "Once upon a time, there was a little girl named Lily.";
    const messages = [{ role: "user" as const, content: prompt }];
    const server = await startTestServer({ modelFiles: [modelPath], services: { calibrate: true, threads: 1 } });
    const engine = await PresageEngine.load({ modelPath, threads: 1 });
    const client = spawn(process.execPath, [fileURLToPath(new URL("./chat-client.mjs", import.meta.url))], { stdio: ["pipe", "pipe", "inherit"] });
    const answers = createInterface({ input: client.stdout! })[Symbol.asyncIterator]();
    try {
        const put = await fetch(`${server.url}/api/settings`, {
            method: "PUT",
            headers: { "content-type": "application/json", "x-presage-token": server.token },
            body: JSON.stringify({ sampling: { temperature: 0, repeatPenalty: 1, maxTokens }, strategies: { auto: false, ngram: strategy === "ngram" } })
        });
        if (!put.ok) throw new Error(`settings: HTTP ${put.status}`);
        // `first`: what the first streamed text's bytes hold (a chat stream's role chunk comes before it).
        const remote = async (path: string, body: object, first: string): Promise<Timing> => {
            client.stdin!.write(JSON.stringify({ url: `${server.url}${path}`, body, first, headers: path.startsWith("/api/") ? { "x-presage-token": server.token } : {} }) + "\n");
            const { value, done } = await answers.next();
            if (done) throw new Error("the benchmark's client process ended");
            const answer = JSON.parse(value as string) as Timing | { error: string };
            if ("error" in answer) throw new Error(`${path}: ${answer.error}`);
            return answer;
        };
        const openai = { max_tokens: maxTokens, temperature: 0, stream: true, stream_options: { include_usage: true }, strategies: strategy };
        const timed = async (run: (onStep: (e: { text: string }) => void) => Promise<{ tokens: unknown[] }>): Promise<Timing> => {
            const t = performance.now();
            let firstMs: number | null = null;
            const r = await run((e) => {
                if (firstMs == null && e.text !== "") firstMs = performance.now() - t;
                sink.push(e.text);
            });
            const ms = performance.now() - t;
            return { ms, firstMs: firstMs ?? ms, tokens: r.tokens.length };
        };
        const sink: string[] = [];
        const lanes: Record<ChatPathLane, () => Promise<Timing>> = {
            engine: async () => {
                const t = performance.now();
                const r = await engine.generate({ prompt, maxTokens, strategies: [strategy as "ngram"] });
                return { ms: performance.now() - t, firstMs: null, tokens: r.tokens.length };
            },
            generate: () => timed((onStep) => engine.generate({ prompt, maxTokens, strategies: [strategy as "ngram"], onStep })),
            generateChat: () => timed((onStep) => new ChatSession(engine).respond(messages, { maxTokens, strategies: [strategy as "ngram"], onStep })),
            generateChatPlain: () => timed((onStep) => new ChatSession(engine).respond(messages, { maxTokens, strategies: ["none"], onStep })),
            completion: () => remote("/v1/completions", { ...openai, prompt }, "data: {"),
            chat: () => remote("/v1/chat/completions", { ...openai, messages }, '"delta":{"content"'),
            window: async () => {
                const res = await fetch(`${server.url}/api/conversations`, { method: "POST", headers: { "content-type": "application/json", "x-presage-token": server.token }, body: "{}" });
                const { id } = await res.json() as { id: string };
                return remote(`/api/conversations/${id}/messages`, { content: prompt, strategies: [strategy] }, "event: step");
            },
            windowAuto: async () => {
                // Earlier rounds stored this very answer: the history drafter would replay it. Measured
                // here is what Auto costs a new question, so past answers are cleared first.
                await fetch(`${server.url}/api/history`, { method: "DELETE", headers: { "x-presage-token": server.token } });
                const res = await fetch(`${server.url}/api/conversations`, { method: "POST", headers: { "content-type": "application/json", "x-presage-token": server.token }, body: "{}" });
                const { id } = await res.json() as { id: string };
                return remote(`/api/conversations/${id}/messages`, { content: prompt, strategies: ["auto"] }, "event: step");
            }
        };
        const names = Object.keys(lanes) as ChatPathLane[];
        const other = "Tom had a red ball.";
        const clearCache = {
            bench: () => engine.generate({ prompt: other, maxTokens: 1, strategies: ["none"] }),
            server: async () => {
                const res = await fetch(`${server.url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ prompt: other, max_tokens: 1, strategies: "none" }) });
                if (!res.ok) throw new Error(`/v1/completions: HTTP ${res.status}`);
                await res.text();
            }
        };
        const timings: Record<ChatPathLane, Timing>[] = [];
        let tokens = 0;
        for (let round = -1; round < rounds; round++) {
            const times = {} as Record<ChatPathLane, Timing>;
            // Lanes in rotating order, so drift of the machine does not always hit the same lane.
            for (const name of names.map((_, i) => names[(i + Math.max(0, round)) % names.length]!)) {
                // Every lane starts from a KV cache that does not hold its prompt, as a new chat does:
                // otherwise a lane that follows one with the same prompt on the same engine skips the
                // prompt's evaluation and its rival does not (measured: 0.9 ms to first text against 8).
                await clearCache[name === "engine" || name === "generate" || name.startsWith("generateChat") ? "bench" : "server"]();
                times[name] = await lanes[name]();
                sink.length = 0;
            }
            if (round < 0) continue;
            tokens = times.engine.tokens;
            timings.push(times);
        }
        const rate = (t: Timing) => (t.tokens * 1000) / t.ms;
        const ratio = (a: ChatPathLane, b: ChatPathLane) => spread(timings.map((t) => rate(t[a]) / rate(t[b])));
        return {
            model: "stories260K", strategy, tokens, rounds,
            lanes: Object.fromEntries(names.map((n) => [n, {
                tokensPerSecond: median(timings.map((t) => rate(t[n]))),
                firstTokenMs: n === "engine" ? null : median(timings.map((t) => t[n].firstMs ?? t[n].ms))
            }])) as Record<ChatPathLane, ChatPathLaneResult>,
            ratios: { completion: ratio("completion", "generate"), chat: ratio("chat", "generateChat"), window: ratio("window", "generateChat"), windowAutoVsPlain: ratio("windowAuto", "generateChatPlain") }
        };
    } finally {
        client.stdin!.end();
        await engine.dispose();
        await server.dispose();
    }
}
