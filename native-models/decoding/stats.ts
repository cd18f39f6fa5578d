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
}

/** A step as the UI sees it: the step's stats and the text it added. */
export interface StepEvent extends StepStats {
    /** The text this step added (may be "" while a character or a stop string is incomplete). */
    text: string;
    /**
     * The text of each token of a step with accepted guesses, when they add up to `text` (for colouring
     * tokens by source): with it the window colours exactly the accepted guesses apart from the target's
     * own token; without it, the whole step by its source. Absent on steps that accepted no guess.
     */
    pieces?: string[];
}

/** What a step adds to the totals (the window's steps arrive as JSON, their tokens plain numbers). */
export type StepCounts = Pick<StepStats, "drafted" | "accepted" | "source"> & { tokens: ArrayLike<unknown> };

export interface SourceStats {
    steps: number;
    drafted: number;
    accepted: number;
}

/** Totals for one answer. */
export interface AnswerStats {
    tokens: number;
    seconds: number;
    tokensPerSecond: number;
    steps: number;
    drafted: number;
    accepted: number;
    /** Tokens per verification step (1 = no speedup from guessing). */
    meanAcceptedLength: number;
    /** accepted / drafted. */
    acceptanceRate: number;
    bySource: Partial<Record<DraftSource, SourceStats & { acceptanceRate: number }>>;
    /**
     * The fastest plain decoding of this model on this machine (one token per decode, at its fastest
     * thread count), measured at load; null without calibration.
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
    /** tokensPerSecond / baselineTokensPerSecond: an estimate, since the baseline was not run on this prompt. */
    speedupEstimate: number | null;
    estimate: true;
}

/**
 * Accumulates step stats into answer stats: the engine's for each answer, and the window's live ones
 * while an answer streams (with its own clock).
 */
export class StatsRecorder {
    private steps = 0;
    private tokens = 0;
    private drafted = 0;
    private accepted = 0;
    private readonly bySource = new Map<DraftSource, SourceStats>();

    constructor(
        private readonly baselineTokensPerSecond: number | null,
        private readonly mode: { exact: boolean; batchInvariant: boolean | null } = { exact: false, batchInvariant: null },
        /** When the answer started, on the clock `snapshot` is given. */
        private readonly started = performance.now()
    ) {}

    record(step: StepCounts): void {
        this.steps++;
        this.tokens += step.tokens.length;
        this.drafted += step.drafted;
        this.accepted += step.accepted;
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
        this.tokens = Math.max(0, this.tokens - tokens);
    }

    finish(): AnswerStats {
        return this.snapshot(performance.now());
    }

    /** The totals so far, `now` on the clock the recorder was started with. */
    snapshot(now: number): AnswerStats {
        const seconds = Math.max(0, (now - this.started) / 1000);
        const tokensPerSecond = seconds > 0 ? this.tokens / seconds : 0;
        const bySource: AnswerStats["bySource"] = {};
        for (const [source, s] of this.bySource)
            bySource[source] = { ...s, acceptanceRate: s.drafted > 0 ? s.accepted / s.drafted : 0 };
        return {
            tokens: this.tokens,
            seconds,
            tokensPerSecond,
            steps: this.steps,
            drafted: this.drafted,
            accepted: this.accepted,
            meanAcceptedLength: this.steps > 0 ? this.tokens / this.steps : 0,
            acceptanceRate: this.drafted > 0 ? this.accepted / this.drafted : 0,
            bySource,
            baselineTokensPerSecond: this.baselineTokensPerSecond,
            exact: this.mode.exact,
            batchInvariant: this.mode.batchInvariant,
            speedupEstimate: this.baselineTokensPerSecond ? tokensPerSecond / this.baselineTokensPerSecond : null,
            estimate: true
        };
    }
}
