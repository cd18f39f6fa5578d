import type { Token } from "node-llama-cpp";
import { BatchEvaluator } from "./batch-evaluator.ts";
import { PositionSampler } from "./sampling.ts";
import type { Verifier } from "./verifier.ts";

/** Guess counts at which the verification cost is measured; others are interpolated. */
const measuredSizes = [0, 1, 2, 3, 4, 6, 8, 12, 16] as const;

/**
 * What a verification step costs on the loaded model and backend, measured rather than assumed:
 * on a tiny CPU model the cost grows almost linearly with the guesses, on a memory-bound 7B model or a
 * GPU it barely grows, and hypothesis reduction must know which world it is in.
 */
export class VerificationCostModel {
    /** `stepMs[k]`: median ms of a step verifying k guesses (k = 0 is a padded plain step). */
    readonly stepMs: Float64Array;
    /** Median ms of one unpadded single-token decode: llama.cpp's own plain decoding speed. */
    readonly plainTokenMs: number;

    constructor(stepMs: ArrayLike<number>, plainTokenMs: number) {
        this.stepMs = Float64Array.from(stepMs);
        this.plainTokenMs = plainTokenMs;
    }

    get maxGuesses(): number {
        return this.stepMs.length - 1;
    }

    /** ms to verify k guesses. */
    cost(k: number): number {
        return this.stepMs[Math.min(k, this.stepMs.length - 1)]!;
    }

    /**
     * Presage's plain decoding speed on this model (a step with no guesses), the baseline of the
     * speedup estimate: the same baseline a race measures, and the one whose output every strategy
     * reproduces exactly.
     */
    get baselineTokensPerSecond(): number {
        return 1000 / this.cost(0);
    }

    /** llama.cpp's own one-token decoding speed (faster on a CPU, but rounds differently; see Verifier). */
    get oneTokenDecodeTokensPerSecond(): number {
        return 1000 / this.plainTokenMs;
    }

    /** A model that assumes verification costs the same for any k (used before calibration). */
    static flat(maxGuesses = 16): VerificationCostModel {
        return new VerificationCostModel(new Array(maxGuesses + 1).fill(1), 1);
    }

    /**
     * Measures the model on `verifier`'s sequence with a short neutral context, then leaves the sequence
     * empty. Takes a few hundred steps; on a 7B CPU model that is seconds, so callers run it once per load.
     */
    static async measure(verifier: Verifier, { repetitions = 5, maxGuesses = 16, vocabularySize }: { repetitions?: number; maxGuesses?: number; vocabularySize: number }): Promise<VerificationCostModel> {
        const sampler = new PositionSampler({ temperature: 0 });
        // Guesses that are almost surely wrong, so every step pays for the erase as real rejected steps do.
        const guess = (i: number): Token => ((((i * 7919 + 13) % vocabularySize) + vocabularySize) % vocabularySize) as Token;
        const context: Token[] = Array.from({ length: 32 }, (_, i) => guess(i + 1000));
        await verifier.clear();
        let pending = await verifier.prefill(context, sampler, 0);
        const sizes = measuredSizes.filter((k) => k <= maxGuesses);
        const samples = new Map<number, number[]>(sizes.map((k) => [k, []]));
        const plain: number[] = [];
        const sequence = verifier.sequence;
        const evaluator = new BatchEvaluator(sequence);
        for (let rep = -1; rep < repetitions; rep++) {
            for (const k of sizes) {
                const guesses = Array.from({ length: k }, (_, i) => guess(rep * 31 + i));
                const t = performance.now();
                const verdict = await verifier.verify(pending, guesses, sampler, 1);
                if (rep >= 0) samples.get(k)!.push(performance.now() - t);
                pending = verdict.tokens.at(-1)!;
                // Keep the context short and constant so every size is measured at the same depth.
                await verifier.truncate(context.length);
            }
            // llama.cpp's own one-token decode, through the same fast evaluator: the strict baseline.
            const t = performance.now();
            await evaluator.evaluate([pending], [sampler.at(1)]);
            if (rep >= 0) plain.push(performance.now() - t);
            await sequence.eraseContextTokenRanges([{ start: sequence.nextTokenIndex - 1, end: sequence.nextTokenIndex }]);
        }
        evaluator.dispose();
        await verifier.clear();
        const measured = sizes.map((k) => median(samples.get(k)!));
        const stepMs = new Array<number>(maxGuesses + 1);
        for (let k = 0; k <= maxGuesses; k++) stepMs[k] = interpolate(sizes, measured, k);
        // Costs cannot fall as k grows; noise sometimes says otherwise.
        for (let k = 1; k <= maxGuesses; k++) stepMs[k] = Math.max(stepMs[k]!, stepMs[k - 1]!);
        return new VerificationCostModel(stepMs, median(plain));
    }
}

function median(values: number[]): number {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function interpolate(xs: readonly number[], ys: readonly number[], x: number): number {
    for (let i = 0; i < xs.length - 1; i++)
        if (x <= xs[i + 1]!) {
            const t = (x - xs[i]!) / (xs[i + 1]! - xs[i]!);
            return ys[i]! + t * (ys[i + 1]! - ys[i]!);
        }
    const n = xs.length;
    const slope = (ys[n - 1]! - ys[n - 2]!) / (xs[n - 1]! - xs[n - 2]!);
    return ys[n - 1]! + slope * (x - xs[n - 1]!);
}
