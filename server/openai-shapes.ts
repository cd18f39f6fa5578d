import { randomUUID } from "node:crypto";
import { basename } from "node:path";
import type { StopReason } from "../native-models/decoding/speculative-decoder.ts";
import type { GenerationResult } from "../core/generation-service.ts";

/** The id a loaded model has under /v1: its file name without ".gguf". */
export function modelId(path: string): string {
    return basename(path).replace(/\.gguf$/i, "");
}

/** OpenAI's finish reasons: the end of the answer (or a stop string) is "stop", running out of room is "length". */
export function finishReason(stop: StopReason): "stop" | "length" {
    return stop === "max-tokens" || stop === "context-full" ? "length" : "stop";
}

/** Token counts; a thinking model's reasoning tokens are part of `completion_tokens`, as OpenAI counts them. */
export function usage(result: GenerationResult) {
    return {
        prompt_tokens: result.promptTokens,
        completion_tokens: result.tokens.length,
        total_tokens: result.promptTokens + result.tokens.length,
        ...(result.reasoning != null ? { completion_tokens_details: { reasoning_tokens: result.reasoning.tokens } } : {})
    };
}

/**
 * Presage's extra: how the answer was sped up. Counts are exact; `tokensPerSecond` is generation speed
 * (the prompt apart: `timeToFirstTokenMs`); `speedupEstimate` compares with plain decoding's cost
 * predicted at this answer's depths, not with this prompt decoded plainly (hence `estimate`).
 */
export function speculative(result: GenerationResult) {
    const s = result.stats;
    return {
        strategies: result.strategies,
        steps: s.steps,
        drafted: s.drafted,
        accepted: s.accepted,
        bySource: s.bySource,
        meanAcceptedLength: s.meanAcceptedLength,
        acceptanceRate: s.acceptanceRate,
        tokensPerSecond: s.tokensPerSecond,
        timeToFirstTokenMs: s.timeToFirstTokenMs,
        promptTokens: s.promptTokens,
        promptTokensPerSecond: s.promptTokensPerSecond,
        baselineTokensPerSecond: s.baselineTokensPerSecond,
        speedupEstimate: s.speedupEstimate,
        exact: s.exact,
        batchInvariant: s.batchInvariant,
        // A thinking model's answer: its tokens apart (reasoning, answer), and the reasoning's time.
        ...(result.reasoning != null
            ? { reasoningTokens: result.reasoning.tokens, answerTokens: result.tokens.length - result.reasoning.tokens, reasoningMs: result.reasoning.ms }
            : {}),
        estimate: true as const
    };
}

export function completionIds(kind: "chat" | "text") {
    return { id: `${kind === "chat" ? "chatcmpl" : "cmpl"}-${randomUUID().replaceAll("-", "")}`, created: Math.floor(Date.now() / 1000) };
}
