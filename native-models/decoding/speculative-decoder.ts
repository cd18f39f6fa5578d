import type { Token } from "node-llama-cpp";
import type { Drafter, Hypothesis } from "../drafters/drafter.ts";
import { EngineError } from "../engine-error.ts";
import type { HypothesisReducer, Reduction } from "../reduction/hypothesis-reducer.ts";
import type { SpeculationGovernor } from "../reduction/speculation-governor.ts";
import type { PlainDecodeCost } from "./plain-decode-cost.ts";
import { PositionSampler, type SamplingOptions } from "./sampling.ts";
import { StatsRecorder, type AnswerStats, type StepStats } from "./stats.ts";
import { commonPrefixLength, type Verifier } from "./verifier.ts";

export type StopReason = "eog" | "max-tokens" | "stop" | "abort" | "context-full";

export interface DecodeOptions {
    maxTokens: number;
    sampling?: SamplingOptions;
    /** Upper bound on guesses per step ("auto": the reducer decides). */
    maxDraft?: number | "auto";
    /** Tokens that end the answer (end-of-generation tokens); they are not part of the output. */
    isStopToken?: (token: Token) => boolean;
    /**
     * Called after each step with the whole output; returns the length to cut the output at when a stop
     * condition (a stop string) was met, else undefined.
     */
    stopAt?: (output: readonly Token[]) => number | undefined;
    signal?: AbortSignal;
    onStep?: (step: StepStats, output: readonly Token[]) => void;
}

export interface DecodeResult {
    tokens: Token[];
    stopReason: StopReason;
    stats: AnswerStats;
}

/**
 * Presage's own decoding loop: ask the drafters for guesses, reduce them to one chain, verify it in one
 * batch, keep what the target agrees with. A step with no guesses is a plain one-token decode, so with
 * no drafters (or none that pay) this is llama.cpp's plain decoding. The governor, when given, times
 * whole steps and has the loop skip the drafters altogether while guessing is slower than plain steps.
 */
export class SpeculativeDecoder {
    constructor(
        private readonly verifier: Verifier,
        private readonly drafters: readonly Drafter[],
        private readonly reducer: HypothesisReducer | null,
        /** Plain decoding's cost by depth: the yardstick of each step, kept current from plain steps. */
        private readonly plainCost: PlainDecodeCost | null = null,
        private readonly batchInvariant: boolean | null = null,
        private readonly governor: SpeculationGovernor | null = null
    ) {}

    async decode(prompt: readonly Token[], options: DecodeOptions): Promise<DecodeResult> {
        const sampler = new PositionSampler(options.sampling);
        const stats = new StatsRecorder({ exact: this.verifier.exact, batchInvariant: this.batchInvariant });
        const plainCost = this.plainCost;
        const output: Token[] = [];
        const history: Token[] = [...prompt];
        const { signal, isStopToken, stopAt, onStep } = options;
        const cap = options.maxDraft === "auto" || options.maxDraft == null ? Infinity : options.maxDraft;
        let stopReason: StopReason | null = null;
        let step = 0;

        // Adds a step's tokens to the output, cutting at a stop token; true when the answer is complete.
        const append = (tokens: readonly Token[]): boolean => {
            for (const token of tokens) {
                if (isStopToken?.(token)) {
                    stopReason = "eog";
                    return true;
                }
                output.push(token);
                history.push(token);
            }
            return false;
        };

        // Cuts the output where a stop string begins; true when it did.
        const cutAtStop = (): boolean => {
            const cut = stopAt?.(output);
            if (cut == null) return false;
            stats.trim(output.length - cut);
            output.length = cut;
            stopReason = "stop";
            return true;
        };

        if (options.maxTokens <= 0) return { tokens: [], stopReason: "max-tokens", stats: stats.finish() };
        if (prompt.length >= this.verifier.contextSize - 2)
            throw new EngineError("context-overflow", `The prompt has ${prompt.length} tokens but the context holds ${this.verifier.contextSize}: shorten it or raise the context size.`);

        let t = performance.now();
        const reused = commonPrefixLength(this.verifier.tokens, prompt, prompt.length - 1);
        const first = await this.verifier.prefill(prompt, sampler, 0);
        append([first]);
        cutAtStop();
        for (const d of this.drafters) await d.reset(history);
        const firstStep: StepStats = {
            step: step++, drafted: 0, accepted: 0, source: null, tokens: output.slice(), ms: performance.now() - t,
            depth: 0, plainMs: null, prompt: { tokens: prompt.length, evaluated: prompt.length - reused }
        };
        stats.record(firstStep);
        onStep?.(firstStep, output);

        while (stopReason == null) {
            if (signal?.aborted) {
                stopReason = "abort";
                break;
            }
            const remaining = options.maxTokens - output.length;
            if (remaining <= 0) {
                stopReason = "max-tokens";
                break;
            }
            // Room for the pending token and a padded or guessed one after it.
            const room = this.verifier.contextSize - 1 - history.length;
            if (room < 2) {
                stopReason = "context-full";
                break;
            }
            t = performance.now();
            const guessing = this.drafters.length > 0 && (this.governor?.shouldGuess() ?? true);
            const limit = Math.min(remaining - 1, room - 1, cap);
            const reduction = guessing && limit > 0 ? await this.guess(history, limit) : none;
            const drafted = performance.now();
            const pending = output[output.length - 1]!;
            // The pending token is decoded with the cache holding everything before it.
            const depth = history.length - 1;
            const verdict = await this.verifier.verify(pending, reduction.tokens, sampler, output.length);
            // A plain one-token decode (exact mode pads it to two rows: not plain decoding's cost).
            if (reduction.tokens.length === 0 && !this.verifier.exact) plainCost?.observe(depth, performance.now() - drafted);
            const before = output.length;
            append(verdict.tokens);
            if (cutAtStop()) history.length = prompt.length + output.length;
            const added = output.slice(before);
            if (guessing && this.reducer != null) {
                this.reducer.learn(reduction, verdict.accepted);
                this.reducer.observeStep(reduction.tokens.length, performance.now() - drafted, reduction.source);
            }
            const s: StepStats = {
                step: step++,
                drafted: reduction.tokens.length,
                accepted: verdict.accepted,
                source: reduction.source,
                tokens: added,
                ms: performance.now() - t,
                draftMs: drafted - t,
                depth,
                plainMs: plainCost == null ? null : plainCost.msFor(depth, added.length)
            };
            stats.record(s);
            onStep?.(s, output);
            // The whole step, the caller's streaming included: fewer, longer steps stream less often too.
            this.governor?.record(added.length, performance.now() - t);
        }
        return { tokens: output, stopReason: stopReason ?? "max-tokens", stats: stats.finish() };
    }

    private async guess(history: readonly Token[], limit: number): Promise<Reduction> {
        if (this.drafters.length === 0) return none;
        const hypotheses: Hypothesis[] = [];
        const reducer = this.reducer;
        reducer?.tick();
        for (const d of this.drafters) {
            if (reducer != null && !reducer.shouldQuery(d.source)) continue;
            const t = performance.now();
            hypotheses.push(...(await (reducer == null ? d.propose(history, limit) : d.propose(history, reducer.draftLimit(d.source, limit), reducer.minConfidence(d.source)))));
            reducer?.recordDrafting(d.source, performance.now() - t);
        }
        if (hypotheses.length === 0) return none;
        if (this.reducer != null) return this.reducer.reduce(hypotheses, limit);
        // Without reduction: the longest chain as proposed.
        const h = hypotheses.reduce((a, b) => (b.tokens.length > a.tokens.length ? b : a));
        return { source: h.source, tokens: h.tokens.slice(0, limit), confidence: h.confidence.slice(0, limit) };
    }
}

const none: Reduction = { source: null, tokens: [], confidence: [] };
