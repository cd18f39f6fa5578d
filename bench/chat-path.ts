import { PresageEngine } from "../native-models/engine/presage-engine.ts";
import { findStoriesModel } from "../native-models/models-dir.ts";
import { startTestServer } from "../server/testing/test-server.ts";
import { median } from "./bench.ts";

export interface ChatPathResult {
    model: string;
    strategy: string;
    tokens: number;
    /** `presage generate`'s path: `PresageEngine.generate` in-process, wall clock. */
    generateTokensPerSecond: number;
    /** Streamed `/v1/completions` (same prompt, no chat template), client clock from request to `[DONE]`. */
    completionTokensPerSecond: number;
    /** Streamed `/v1/chat/completions` (the model's chat template), client clock. */
    chatTokensPerSecond: number;
    /** completion ÷ generate: what the service layer, the queue and the stream cost. */
    ratio: number;
    rounds: number;
}

/**
 * Does the chat path keep the engine's speed? The same model, strategy and length through
 * `presage serve`'s streamed API and straight through the engine, interleaved round by round. On
 * stories260K a token takes well under a millisecond, so any per-token cost of the path shows.
 */
export async function measureChatPath({ rounds = 5, maxTokens = 200, strategy = "ngram" } = {}): Promise<ChatPathResult> {
    const modelPath = findStoriesModel();
    if (modelPath == null) throw new Error("stories260K.gguf is missing");
    const prompt = "Once upon a time, there was a little girl named Lily.";
    const server = await startTestServer({ modelFiles: [modelPath], services: { calibrate: true, threads: 1 } });
    const engine = await PresageEngine.load({ modelPath, threads: 1 });
    try {
        const headers = { "content-type": "application/json" };
        const streamed = async (path: string, body: object): Promise<{ ms: number; tokens: number }> => {
            const t = performance.now();
            const res = await fetch(`${server.url}/v1/${path}`, { method: "POST", headers, body: JSON.stringify({ ...body, max_tokens: maxTokens, temperature: 0, stream: true, stream_options: { include_usage: true }, strategies: strategy }) });
            const text = await res.text();
            const ms = performance.now() - t;
            if (!text.includes("[DONE]")) throw new Error(`the stream did not finish: ${text.slice(0, 200)}`);
            const usage = [...text.matchAll(/"completion_tokens":(\d+)/g)].at(-1);
            return { ms, tokens: Number(usage?.[1] ?? 0) };
        };
        const rates = { generate: [] as number[], completion: [] as number[], chat: [] as number[] };
        let tokens = 0;
        for (let round = -1; round < rounds; round++) {
            const t = performance.now();
            const g = await engine.generate({ prompt, maxTokens, strategies: [strategy as "ngram"] });
            const gms = performance.now() - t;
            const c = await streamed("completions", { prompt });
            const h = await streamed("chat/completions", { messages: [{ role: "user", content: prompt }] });
            if (round < 0) continue;
            tokens = g.tokens.length;
            rates.generate.push((g.tokens.length * 1000) / gms);
            rates.completion.push((c.tokens * 1000) / c.ms);
            rates.chat.push((h.tokens * 1000) / h.ms);
        }
        const generateTokensPerSecond = median(rates.generate);
        const completionTokensPerSecond = median(rates.completion);
        return {
            model: "stories260K", strategy, tokens, rounds,
            generateTokensPerSecond, completionTokensPerSecond,
            chatTokensPerSecond: median(rates.chat),
            ratio: completionTokensPerSecond / generateTokensPerSecond
        };
    } finally {
        await engine.dispose();
        await server.dispose();
    }
}
