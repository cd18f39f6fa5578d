import type { StepEvent } from "./types.ts";

/** What the window shows of an answer's reasoning while it streams. */
export interface ReasoningView {
    text: string;
    /** Tokens of the steps made while reasoning (the engine's count replaces it once the answer is done). */
    tokens: number;
    /** From the first step to the last reasoning step (to now, while still reasoning). */
    ms: number;
    /** Still reasoning: no answer text yet. */
    active: boolean;
}

/**
 * Counts a streaming answer's reasoning from its steps (the engine marks each step's reasoning text
 * apart from its answer text), on the window's clock: its text, tokens and time, live.
 */
export class LiveReasoning {
    private text = "";
    private tokens = 0;
    private seen = false;
    private answering = false;
    private firstAt: number | null = null;
    private lastAt: number | null = null;

    /** Adds a step that ended at `at`. */
    record(step: Pick<StepEvent, "reasoning" | "text" | "tokens">, at: number): void {
        this.firstAt ??= at;
        if (step.reasoning != null && !this.answering) {
            this.seen = true;
            this.text += step.reasoning;
            this.tokens += step.tokens.length;
            this.lastAt = at;
        }
        if (step.text !== "" && this.seen) this.answering = true;
    }

    /** The reasoning so far, or null when the answer has none (yet). */
    snapshot(): ReasoningView | null {
        if (!this.seen) return null;
        return { text: this.text.trim(), tokens: this.tokens, ms: Math.max(0, (this.lastAt ?? 0) - (this.firstAt ?? 0)), active: !this.answering };
    }
}

/** "Thinking… 42 tokens · 1.3 s" while it streams, "Thought for 1.3 s · 42 tokens" after. */
export function reasoningSummary(view: { tokens: number; ms: number; active?: boolean; ended?: boolean }): string {
    const seconds = view.ms < 1000 ? `${(view.ms / 1000).toFixed(2)} s` : view.ms < 60_000 ? `${(view.ms / 1000).toFixed(1)} s` : `${Math.floor(view.ms / 60_000)} min ${Math.round((view.ms % 60_000) / 1000)} s`;
    const tokens = `${view.tokens} ${view.tokens === 1 ? "token" : "tokens"}`;
    if (view.active) return `Thinking… ${tokens} · ${seconds}`;
    if (view.ended === false) return `Stopped while thinking · ${tokens} · ${seconds}`;
    return `Thought for ${seconds} · ${tokens}`;
}
