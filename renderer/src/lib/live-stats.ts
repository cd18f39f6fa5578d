import type { AnswerStats, DraftSource, StepEvent } from "./types.ts";

/** Answer stats computed in the window from the steps streamed so far (the server's arrive at "done"). */
export class LiveStats {
    tokens = 0;
    steps = 0;
    drafted = 0;
    accepted = 0;
    private readonly bySource = new Map<DraftSource, { steps: number; drafted: number; accepted: number }>();

    constructor(private readonly startedAt: number, private readonly baselineTokensPerSecond: number | null) {}

    add(step: StepEvent): void {
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

    snapshot(now: number): AnswerStats {
        const seconds = Math.max(0, (now - this.startedAt) / 1000);
        const tokensPerSecond = seconds > 0 ? this.tokens / seconds : 0;
        const bySource: AnswerStats["bySource"] = {};
        for (const [source, s] of this.bySource) bySource[source] = { ...s, acceptanceRate: s.drafted > 0 ? s.accepted / s.drafted : 0 };
        const baseline = this.baselineTokensPerSecond;
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
            baselineTokensPerSecond: baseline,
            speedupEstimate: baseline != null && baseline > 0 && tokensPerSecond > 0 ? tokensPerSecond / baseline : null,
            estimate: true
        };
    }
}

/**
 * The speedup baseline the engine reports (Presage's plain decoding, measured at load), so the live
 * estimate while streaming matches the one stored with the answer.
 */
export function baselineFromCalibration(calibration: { baselineTokensPerSecond: number } | null | undefined): number | null {
    if (calibration == null || !(calibration.baselineTokensPerSecond > 0)) return null;
    return calibration.baselineTokensPerSecond;
}

/** Per-step chart data: at most `bars` buckets of consecutive steps, each the mean tokens per step. */
export function acceptedLengthBars(steps: readonly StepEvent[], bars: number): { value: number; from: number; to: number }[] {
    if (steps.length === 0) return [];
    const per = Math.max(1, Math.ceil(steps.length / bars));
    const out: { value: number; from: number; to: number }[] = [];
    for (let i = 0; i < steps.length; i += per) {
        let tokens = 0;
        const end = Math.min(steps.length, i + per);
        for (let j = i; j < end; j++) tokens += steps[j]!.tokens.length;
        out.push({ value: tokens / (end - i), from: steps[i]!.step, to: steps[end - 1]!.step });
    }
    return out;
}
