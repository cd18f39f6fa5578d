import type { DraftSource, StepEvent } from "./types.ts";

/**
 * A run of answer text with who produced it: `guess` = tokens a drafter guessed and the target accepted,
 * `own` = the target's own token, `step` = a whole step coloured by its source because the text of
 * each token is not known (StepEvent.pieces absent).
 */
export interface TextSpan {
    text: string;
    source: DraftSource | null;
    step: number;
    kind: "guess" | "own" | "step";
}

export function stepSpans(step: StepEvent): TextSpan[] {
    if (step.text === "") return [];
    if (step.accepted <= 0 || step.source == null) return [{ text: step.text, source: null, step: step.step, kind: "own" }];
    const pieces = step.pieces;
    if (pieces != null && pieces.length === step.tokens.length && pieces.join("") === step.text) {
        const guessed = pieces.slice(0, step.accepted).join("");
        const own = pieces.slice(step.accepted).join("");
        const spans: TextSpan[] = [];
        if (guessed !== "") spans.push({ text: guessed, source: step.source, step: step.step, kind: "guess" });
        if (own !== "") spans.push({ text: own, source: null, step: step.step, kind: "own" });
        return spans;
    }
    return [{ text: step.text, source: step.source, step: step.step, kind: "step" }];
}

/** Tooltip for a span. */
export function spanTitle(span: TextSpan, label: (source: DraftSource) => string): string {
    if (span.source == null) return `Target model's own token · step ${span.step}`;
    if (span.kind === "guess") return `Guessed by ${label(span.source)}, accepted · step ${span.step}`;
    return `Step ${span.step}: ${label(span.source)} guesses accepted (whole step shown; per-token text not available)`;
}
