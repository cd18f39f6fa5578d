// Shared with the chat window (renderer/src/lib/chat-store.svelte.ts), which Vite bundles: type-only
// imports and browser globals only, so the live stats and the stored ones are counted alike.
import type { Token } from "node-llama-cpp";
import type { DraftSource } from "../drafters/drafter.ts";

/** One verification step of the target model. */
export interface StepStats {
    step: number;
    /** Guessed tokens sent to the target with the last accepted one. */
    drafted: number;
    /** How many of them the target agreed with. */
    accepted: number;
    /** Whose guess was verified; null when nothing was guessed. */
    source: DraftSource | null;
    /** Tokens this step added to the answer: the accepted guesses, then the target's own token. */
    tokens: Token[];
    /** Wall time of the step, drafting included. */
    ms: number;
    /** The part of `ms` spent guessing (drafters, a draft model's decodes included); absent on the first step. */
    draftMs?: number;
    /**
     * Tokens in the KV cache before the step (the depth its first token was decoded at); absent on
     * steps stored before it existed.
     */
    depth?: number;
    /**
     * What plain one-token decoding would take for this step's tokens at their depths (ms, predicted by
     * the model's measured cost by depth); null when it cannot be known (no calibration, deeper than
     * measured).
     */
    plainMs?: number | null;
    /** The first step only: the prompt it evaluated (its whole length, and the tokens not reused from the cache). */
    prompt?: { tokens: number; evaluated: number };
}

/** A step as the UI sees it: the step's stats and the text it added. */
export interface StepEvent extends StepStats {
    /** The text this step added (may be "" while a character or a stop string is incomplete). */
    text: string;
    /**
     * Chat answers of thinking models: the reasoning text this step added, apart from `text` (then
     * the answer's part only). Present on steps inside the reasoning block, absent elsewhere.
     */
    reasoning?: string;
    /**
     * The text of each token of a step with accepted guesses, when they add up to `text` (for colouring
     * tokens by source): with it the window colours exactly the accepted guesses apart from the target's
     * own token; without it, the whole step by its source. Absent on steps that accepted no guess.
     */
    pieces?: string[];
}

/** What a step adds to the totals (the window's steps arrive as JSON, their tokens plain numbers). */
export type StepCounts = Pick<StepStats, "drafted" | "accepted" | "source" | "plainMs" | "prompt"> & { tokens: ArrayLike<unknown> };

export interface SourceStats {
    steps: number;
    drafted: number;
    accepted: number;
}

/** Totals for one answer. */
export interface AnswerStats {
    /** Tokens of the answer, the first (drawn by the prompt's evaluation) included. */
    tokens: number;
    /** Wall time of the whole answer, prompt evaluation included. */
    seconds: number;
    /**
     * Generation speed: tokens after the first over the time from the first token to the last, as
     * llama.cpp and LM Studio report it (prompt evaluation apart: `timeToFirstTokenMs`).
     */
    tokensPerSecond: number;
    /** From the start of the answer to its first token: the prompt's evaluation (cached prefix reused). */
    timeToFirstTokenMs: number | null;
    /** Tokens in the prompt. */
    promptTokens: number | null;
    /** Prompt tokens evaluated (those not reused from the cache) per second of `timeToFirstTokenMs`. */
    promptTokensPerSecond: number | null;
    steps: number;
    drafted: number;
    accepted: number;
    /** Tokens per verification step (1 = no speedup from guessing). */
    meanAcceptedLength: number;
    /** accepted / drafted. */
    acceptanceRate: number;
    bySource: Partial<Record<DraftSource, SourceStats & { acceptanceRate: number }>>;
    /**
     * Plain decoding's speed for this answer: its generated tokens over the time the fastest plain
     * one-token decoding of this model on this machine is predicted to take for them at the depths
     * they were decoded at (measured at load at several depths, kept current from plain steps). Null
     * when that cannot be known: no calibration, or an answer deeper than was measured.
     */
    baselineTokensPerSecond: number | null;
    /** Whether the answer ran in exact mode (every batch at least two rows). */
    exact: boolean;
    /**
     * Whether the model's batch rows are bit-identical to one-token rows (checked at load): when true,
     * or in exact mode, the answer is token for token what plain decoding gives; when false, it may
     * differ at near-ties.
     */
    batchInvariant: boolean | null;
    /**
     * Plain decoding's predicted time for this answer's generated tokens at their depths over the time
     * their generation took: an estimate, since plain decoding did not run on this prompt.
     */
    speedupEstimate: number | null;
    estimate: true;
}

/**
 * Accumulates step stats into answer stats: the engine's for each answer, and the window's live ones
 * while an answer streams (with its own clock: steps are recorded at the time they arrived).
 */
export class StatsRecorder {
    private steps = 0;
    private tokens = 0;
    private drafted = 0;
    private accepted = 0;
    private readonly bySource = new Map<DraftSource, SourceStats>();
    /** Tokens after the first step's, and plain decoding's predicted ms for them (NaN once one is unknown). */
    private generated = 0;
    private plainMs = 0;
    private firstAt: number | null = null;
    private lastAt: number | null = null;
    private prompt: { tokens: number; evaluated: number } | null = null;

    constructor(
        private readonly mode: { exact: boolean; batchInvariant: boolean | null } = { exact: false, batchInvariant: null },
        /** When the answer started, on the clock `record` and `snapshot` are given. */
        private readonly started = performance.now()
    ) {}

    /** Adds a step that ended at `at` (on the recorder's clock). */
    record(step: StepCounts, at = performance.now()): void {
        const first = this.steps === 0;
        this.steps++;
        this.tokens += step.tokens.length;
        this.drafted += step.drafted;
        this.accepted += step.accepted;
        if (first) {
            this.firstAt = at;
            this.prompt = step.prompt ?? null;
        } else {
            if (step.tokens.length > 0) {
                this.generated += step.tokens.length;
                // A step whose plain cost is unknown makes the answer's unknown: no partial yardstick.
                this.plainMs += step.plainMs ?? NaN;
                this.lastAt = at;
            }
        }
        if (step.source != null) {
            const s = this.bySource.get(step.source) ?? { steps: 0, drafted: 0, accepted: 0 };
            s.steps++;
            s.drafted += step.drafted;
            s.accepted += step.accepted;
            this.bySource.set(step.source, s);
        }
    }

    /** Removes tokens cut off after the fact (a stop string or the token limit). */
    trim(tokens: number): void {
        const cut = Math.min(tokens, this.generated);
        if (this.generated > 0) this.plainMs -= (this.plainMs * cut) / this.generated;
        this.generated -= cut;
        this.tokens = Math.max(0, this.tokens - tokens);
    }

    finish(): AnswerStats {
        const now = performance.now();
        return this.snapshot(now, this.lastAt ?? now);
    }

    /**
     * The totals so far, `now` on the recorder's clock; generation counted up to `generationEnd`
     * (default `now`: while streaming, the time since the last step is generation too).
     */
    snapshot(now: number, generationEnd = now): AnswerStats {
        const seconds = Math.max(0, (now - this.started) / 1000);
        const generationMs = this.firstAt == null ? 0 : Math.max(0, generationEnd - this.firstAt);
        const tokensPerSecond = generationMs > 0 ? (this.generated * 1000) / generationMs : 0;
        const plainKnown = this.generated > 0 && generationMs > 0 && Number.isFinite(this.plainMs) && this.plainMs > 0;
        const ttft = this.firstAt == null ? null : Math.max(0, this.firstAt - this.started);
        const bySource: AnswerStats["bySource"] = {};
        for (const [source, s] of this.bySource)
            bySource[source] = { ...s, acceptanceRate: s.drafted > 0 ? s.accepted / s.drafted : 0 };
        return {
            tokens: this.tokens,
            seconds,
            tokensPerSecond,
            timeToFirstTokenMs: ttft,
            promptTokens: this.prompt?.tokens ?? null,
            promptTokensPerSecond: this.prompt != null && ttft != null && ttft > 0 ? (this.prompt.evaluated * 1000) / ttft : null,
            steps: this.steps,
            drafted: this.drafted,
            accepted: this.accepted,
            meanAcceptedLength: this.steps > 0 ? this.tokens / this.steps : 0,
            acceptanceRate: this.drafted > 0 ? this.accepted / this.drafted : 0,
            bySource,
            baselineTokensPerSecond: plainKnown ? (this.generated * 1000) / this.plainMs : null,
            exact: this.mode.exact,
            batchInvariant: this.mode.batchInvariant,
            speedupEstimate: plainKnown ? this.plainMs / generationMs : null,
            estimate: true
        };
    }
}
