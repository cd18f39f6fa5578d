import { formatRate } from "./format.ts";
import type { StepEvent } from "./types.ts";

/**
 * Plain decoding's speed as measured at load, by context depth ("2890 tok/s at depth 32, 640 at 512"),
 * or at one depth where only that was measured.
 */
export function plainSpeedByDepth(calibration: { baselineTokensPerSecond: number; plainByDepth?: { depth: number; msPerToken: number }[] }): string {
    const points = calibration.plainByDepth ?? [];
    if (points.length === 0) return `${formatRate(calibration.baselineTokensPerSecond)} tok/s (measured at load)`;
    const shown = points.length <= 3 ? points : [points[0]!, points[Math.floor(points.length / 2)]!, points.at(-1)!];
    return shown.map((p, i) => `${formatRate(1000 / p.msPerToken)}${i === 0 ? " tok/s" : ""} at depth ${Math.round(p.depth)}`).join(", ");
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
