import type { StepEvent } from "./types.ts";

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
