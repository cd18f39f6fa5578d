import { EventEmitter } from "node:events";
import type { ChatMessage, ChatResult } from "../native-models/chat/chat-session.ts";
import type { GenerateResult, StepEvent } from "../native-models/engine/presage-engine.ts";
import type { RaceResponse, SamplingSettings, StrategyName } from "./app-api.ts";
import type { ModelService } from "./model-service.ts";
import { raceSchema } from "./schemas.ts";
import { ServiceError } from "./service-error.ts";
import type { SettingsService } from "./settings-service.ts";
import { TrimmedText } from "./trimmed-text.ts";
import { validate } from "./validation.ts";

export interface GenerationOptions {
    /**
     * Strategies for this answer. Given explicitly, each must be usable now (the engine refuses with
     * "strategy-unavailable" otherwise); left out, the ones switched on in the settings that the
     * loaded models allow.
     */
    strategies?: readonly StrategyName[];
    /** Sampler overrides (a conversation's, a request's), applied over the settings in order. */
    sampling?: readonly (Partial<SamplingSettings> | undefined)[];
    /** Overrides the sampling settings' maxTokens. */
    maxTokens?: number;
    stopStrings?: readonly string[];
    /** Aborting stops the answer; what was generated is returned with stopReason "abort". */
    signal?: AbortSignal;
    onStep?: (event: StepEvent) => void;
    /**
     * The answer's text as it grows. For chat it is trimmed like the final text, so the pieces join
     * to exactly `result.text`.
     */
    onText?: (piece: string) => void;
    /** Exact mode for this answer (default: the setting). */
    exact?: boolean;
    /** OpenAI-style penalties over the last 64 tokens (0 = off). */
    penalties?: { frequencyPenalty?: number; presencePenalty?: number };
    /** The model file to answer with (ModelService.requestedModel), loaded in this request's turn if needed. */
    model?: string;
    /** Chat: thinking on or off where the template takes `enable_thinking` (undefined: its default). */
    thinking?: boolean;
    /** Chat: the reasoning's text as it grows, trimmed like `onText` (thinking models only). */
    onReasoning?: (piece: string) => void;
}

export interface GenerationResult extends GenerateResult {
    /** Earlier messages left out to fit the context (chat only). */
    droppedMessages: number;
    /** Chat with a thinking model: the answer's reasoning, apart from `text`. */
    reasoning?: ChatResult["reasoning"];
    /** The target model's file path. */
    modelPath: string;
}

/** What every finished generation reports in-process (tests and the load bench listen). */
export interface GenerationRecord {
    kind: "chat" | "completion" | "race";
    stopReason: GenerateResult["stopReason"];
    tokens: number;
}

/**
 * Turns requests into engine calls: settings and overrides into sampler options and strategies,
 * messages into a chat turn with the model's template, all through the model service's queue (the
 * one line requests wait in). The engine, its chat template and the prompt's tokens are in the engine
 * process; what comes back (results, steps) is passed on as it is.
 */
export class GenerationService extends EventEmitter<{ finished: [GenerationRecord] }> {
    constructor(private readonly models: ModelService, private readonly settings: SettingsService) {
        super();
    }

    /** Answers the last user message of `messages` with the model's chat template. */
    chat(messages: readonly ChatMessage[], options: GenerationOptions = {}): Promise<GenerationResult> {
        return this.models.use(async (engine) => {
            const sent = { text: "", reasoning: "" };
            const onText = options.onText, onReasoning = options.onReasoning;
            const trimmed = onText == null ? null : new TrimmedText((t) => onText((sent.text += t, t)));
            const reasoning = onReasoning == null ? null : new TrimmedText((t) => onReasoning((sent.reasoning += t, t)));
            const result = await engine.chat(messages, {
                ...this.request(options, trimmed == null ? undefined : (t) => trimmed.push(t), reasoning == null ? undefined : (t) => reasoning.push(t)),
                ...(options.thinking == null ? {} : { thinking: options.thinking })
            });
            // A thinking model's splitter may hold back the output's last characters (they could have
            // become a marker): send what the steps did not, so the pieces join to the final texts.
            const rest = (whole: string, streamed: string) => (whole.startsWith(streamed) ? whole.slice(streamed.length) : "");
            if (onText != null && rest(result.text, sent.text) !== "") onText(rest(result.text, sent.text));
            if (onReasoning != null && result.reasoning != null && rest(result.reasoning.text, sent.reasoning) !== "") onReasoning(rest(result.reasoning.text, sent.reasoning));
            this.emit("finished", { kind: "chat", stopReason: result.stopReason, tokens: result.tokens.length });
            return { ...result, modelPath: engine.info.modelPath };
        }, { signal: options.signal, model: options.model });
    }

    /** Continues a raw text prompt (no chat template). */
    complete(prompt: string, options: GenerationOptions = {}): Promise<GenerationResult> {
        return this.models.use(async (engine) => {
            // The engine process refuses a prompt clearly longer than the context before tokenizing it whole.
            const result = await engine.complete(prompt, this.request(options, options.onText));
            this.emit("finished", { kind: "completion", stopReason: result.stopReason, tokens: result.tokens.length });
            return { ...result, droppedMessages: 0, modelPath: engine.info.modelPath };
        }, { signal: options.signal, model: options.model });
    }

    /**
     * The same chat prompt greedily, with the strategies and plainly, one after the other. The
     * speculative run goes first: the plain run then finds the prompt in the KV cache, so the speedup
     * reported can only be understated, never flattered.
     */
    race(request: unknown, options: { signal?: AbortSignal } = {}): Promise<RaceResponse> {
        const req = validate(raceSchema, request, "race request");
        const messages: ChatMessage[] = [{ role: "user", content: req.prompt }];
        const greedy = { temperature: 0, seed: null };
        return this.models.use(async (engine) => {
            const base = { sampling: [greedy], maxTokens: req.maxTokens ?? Math.min(256, this.settings.get().sampling.maxTokens), signal: options.signal };
            const spec = await engine.chat(messages, this.request({ ...base, strategies: req.strategies }));
            // The plain lane is the fastest plain decoding (one token per decode), whatever exact mode says.
            const plain = await engine.chat(messages, this.request({ ...base, strategies: ["none"], exact: false }));
            this.emit("finished", { kind: "race", stopReason: spec.stopReason, tokens: spec.tokens.length });
            const speedup = plain.stats.tokensPerSecond > 0 ? spec.stats.tokensPerSecond / plain.stats.tokensPerSecond : 0;
            return {
                plain: { text: plain.text, tokensPerSecond: plain.stats.tokensPerSecond, seconds: plain.stats.seconds, tokens: plain.stats.tokens },
                speculative: { text: spec.text, tokensPerSecond: spec.stats.tokensPerSecond, seconds: spec.stats.seconds, tokens: spec.stats.tokens, stats: spec.stats },
                identical: plain.text === spec.text,
                speedup
            };
        }, { signal: options.signal });
    }

    private request(options: GenerationOptions, onText?: (piece: string) => void, onReasoning?: (piece: string) => void) {
        const settings = this.settings.get();
        const { sampling, maxTokens } = this.settings.sampling(...(options.sampling ?? []));
        const p = options.penalties;
        if (p != null && ((p.frequencyPenalty ?? 0) !== 0 || (p.presencePenalty ?? 0) !== 0))
            sampling.repeatPenalty = { penalty: sampling.repeatPenalty?.penalty ?? 1, frequencyPenalty: p.frequencyPenalty, presencePenalty: p.presencePenalty };
        const onStep = options.onStep;
        return {
            maxTokens: options.maxTokens ?? maxTokens,
            sampling,
            // The engine resolves them (auto, what is available); the settings' switches may name one
            // the loaded models lack, which is left out rather than refused.
            ...(options.strategies != null && options.strategies.length > 0
                ? { strategies: options.strategies }
                : { strategies: this.settings.enabledStrategies(), skipUnavailable: true }),
            maxDraft: settings.maxDraft,
            exact: options.exact ?? settings.exact,
            stopStrings: options.stopStrings,
            signal: options.signal,
            onStep: onStep == null && onText == null && onReasoning == null ? undefined : (e: StepEvent) => {
                onStep?.(e);
                if (e.reasoning) onReasoning?.(e.reasoning);
                if (e.text !== "") onText?.(e.text);
            }
        };
    }
}
