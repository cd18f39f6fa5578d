import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { ChatSession } from "../native-models/chat/chat-session.ts";
import { PresageEngine } from "../native-models/engine/presage-engine.ts";
import { findStoriesModel } from "../native-models/models-dir.ts";
import { startTestServer } from "../server/testing/test-server.ts";
import { median } from "./bench.ts";

export interface ChatPathResult {
    model: string;
    strategy: string;
    tokens: number;
    /** The engine alone: `PresageEngine.generate`, no text streamed, wall clock. */
    engineTokensPerSecond: number;
    /** `presage generate`'s path: the engine streaming its text as it goes (the CLI writes it to stdout). */
    generateTokensPerSecond: number;
    /** `presage generate --chat`'s path: the model's chat template through ChatSession, text streamed. */
    generateChatTokensPerSecond: number;
    /** Streamed `/v1/completions` (same prompt, no chat template), client clock from request to `[DONE]`. */
    completionTokensPerSecond: number;
    /** Streamed `/v1/chat/completions` (the model's chat template), client clock. */
    chatTokensPerSecond: number;
    /** The window's path: a new conversation's message over the app API's answer stream, client clock. */
    windowTokensPerSecond: number;
    /** completion ÷ generate: what the service layer, the queue and the stream cost. */
    ratio: number;
    /** chat ÷ generate --chat, and window ÷ generate --chat. */
    chatRatio: number;
    windowRatio: number;
    rounds: number;
}

/**
 * Does the chat path keep the engine's speed? The same model, strategy and length through `presage
 * serve`'s streamed APIs and straight through the engine, interleaved round by round. The client runs
 * in a process of its own, as the window (Chromium) and API clients do, so its parsing is not charged
 * to the server's event loop. On stories260K a token takes well under a millisecond, so any per-token
 * cost of the path shows.
 */
export async function measureChatPath({ rounds = 5, maxTokens = 200, strategy = "ngram" } = {}): Promise<ChatPathResult> {
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
        const remote = async (path: string, body: object): Promise<{ ms: number; tokens: number }> => {
            client.stdin!.write(JSON.stringify({ url: `${server.url}${path}`, body, headers: path.startsWith("/api/") ? { "x-presage-token": server.token } : {} }) + "\n");
            const { value, done } = await answers.next();
            if (done) throw new Error("the benchmark's client process ended");
            const answer = JSON.parse(value as string) as { ms: number; tokens: number } | { error: string };
            if ("error" in answer) throw new Error(`${path}: ${answer.error}`);
            return answer;
        };
        const openai = { max_tokens: maxTokens, temperature: 0, stream: true, stream_options: { include_usage: true }, strategies: strategy };
        const timed = async (run: () => Promise<{ tokens: unknown[] }>) => {
            const t = performance.now();
            const r = await run();
            return { ms: performance.now() - t, tokens: r.tokens.length };
        };
        const sink: string[] = [];
        const streamText = (e: { text: string }) => void sink.push(e.text);
        const lanes = {
            engine: () => timed(() => engine.generate({ prompt, maxTokens, strategies: [strategy as "ngram"] })),
            generate: () => timed(() => engine.generate({ prompt, maxTokens, strategies: [strategy as "ngram"], onStep: streamText })),
            generateChat: () => timed(() => new ChatSession(engine).respond(messages, { maxTokens, strategies: [strategy as "ngram"], onStep: streamText })),
            completion: () => remote("/v1/completions", { ...openai, prompt }),
            chat: () => remote("/v1/chat/completions", { ...openai, messages }),
            window: async () => {
                const res = await fetch(`${server.url}/api/conversations`, { method: "POST", headers: { "content-type": "application/json", "x-presage-token": server.token }, body: "{}" });
                const { id } = await res.json() as { id: string };
                return remote(`/api/conversations/${id}/messages`, { content: prompt, strategies: [strategy] });
            }
        };
        const rates: Record<keyof typeof lanes, number[]> = { engine: [], generate: [], generateChat: [], completion: [], chat: [], window: [] };
        let tokens = 0;
        for (let round = -1; round < rounds; round++) {
            for (const [name, run] of Object.entries(lanes) as [keyof typeof lanes, () => Promise<{ ms: number; tokens: number }>][]) {
                const r = await run();
                sink.length = 0;
                if (round < 0) continue;
                if (name === "engine") tokens = r.tokens;
                rates[name].push((r.tokens * 1000) / r.ms);
            }
        }
        const m = Object.fromEntries(Object.entries(rates).map(([k, v]) => [k, median(v)])) as Record<keyof typeof lanes, number>;
        return {
            model: "stories260K", strategy, tokens, rounds,
            engineTokensPerSecond: m.engine,
            generateTokensPerSecond: m.generate,
            generateChatTokensPerSecond: m.generateChat,
            completionTokensPerSecond: m.completion,
            chatTokensPerSecond: m.chat,
            windowTokensPerSecond: m.window,
            ratio: m.completion / m.generate,
            chatRatio: m.chat / m.generateChat,
            windowRatio: m.window / m.generateChat
        };
    } finally {
        client.stdin!.end();
        await engine.dispose();
        await server.dispose();
    }
}
