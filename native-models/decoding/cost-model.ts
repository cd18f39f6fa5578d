import type { Token } from "node-llama-cpp";
import { PositionSampler } from "./sampling.ts";
import type { SequenceEvaluator } from "./sequence-evaluator.ts";
import type { Verifier } from "./verifier.ts";

/** Batch sizes (rows) at which the cost is measured; others are interpolated. */
const measuredRows = [1, 2, 3, 4, 5, 7, 9, 13, 17] as const;

export interface CostMeasureOptions {
    vocabularySize: number;
    /** Thread counts to try; the fastest is kept for each batch size. */
    threadCandidates: readonly number[];
    maxGuesses?: number;
}

/**
 * What one decode of n rows costs on the loaded model and backend, measured rather than assumed: on a
 * cache-resident CPU model the cost grows almost linearly with the rows, on a memory-bound model or a
 * GPU it barely grows, and hypothesis reduction must know which world it is in.
 *
 * Row 1 is plain one-token decoding at its fastest thread count: the baseline of every speedup
 * Presage reports, the speed a user gets from llama.cpp or LM Studio on the same model.
 */
export class VerificationCostModel {
    /** `rowsMs[n]`: mean ms of a decode of n rows with its drawn token (index 0 unused). */
    readonly rowsMs: Float64Array;
    /** The fastest thread count measured for each batch size (index 0 unused). */
    readonly threadsForRows: Int32Array;
    /** Whether row 0 of a batch was bit-identical to a one-row decode at every position checked. */
    readonly batchInvariant: boolean | null;
    private readonly minRows: number;

    constructor(rowsMs: ArrayLike<number>, threadsForRows: ArrayLike<number>, batchInvariant: boolean | null, minRows = 1) {
        this.rowsMs = Float64Array.from(rowsMs);
        this.threadsForRows = Int32Array.from(threadsForRows);
        this.batchInvariant = batchInvariant;
        this.minRows = minRows;
    }

    get maxGuesses(): number {
        return this.rowsMs.length - 2;
    }

    /** ms to verify k guesses (a batch of k + 1 rows; at least two in exact mode). */
    cost(k: number): number {
        return this.rowsMs[Math.min(Math.max(k + 1, this.minRows), this.rowsMs.length - 1)]!;
    }

    /** ms of one plain one-token decode at its fastest thread count. */
    get plainTokenMs(): number {
        return this.rowsMs[1]!;
    }

    /** The fastest plain decoding of this model on this machine: the baseline of every speedup. */
    get baselineTokensPerSecond(): number {
        return 1000 / this.plainTokenMs;
    }

    /** Costs as exact mode pays them: every plain step is padded to two rows. */
    forExact(): VerificationCostModel {
        return new VerificationCostModel(this.rowsMs, this.threadsForRows, this.batchInvariant, 2);
    }

    /** Threads for a batch of `rows` rows. */
    threadsFor(rows: number): number {
        return this.threadsForRows[Math.min(Math.max(rows, 1), this.threadsForRows.length - 1)]!;
    }

    /** The cost curve as multiples of one plain token, for reports. */
    curve(rows: readonly number[] = [1, 2, 3, 4, 6, 8, 12, 16]): { rows: number; multiple: number }[] {
        return rows.filter((n) => n < this.rowsMs.length).map((n) => ({ rows: n, multiple: this.rowsMs[n]! / this.plainTokenMs }));
    }

    /** A model that assumes verification costs the same for any k (used before calibration). */
    static flat(maxGuesses = 16, threads = 1): VerificationCostModel {
        return new VerificationCostModel(new Array(maxGuesses + 2).fill(1), new Array(maxGuesses + 2).fill(threads), null);
    }

    /**
     * Measures the model on `verifier`'s sequence with a short neutral context at every candidate
     * thread count, then leaves the sequence empty. A few hundred decodes: under a second on small
     * models, some seconds on a 1.5 GB CPU model; callers run it once per load.
     */
    static async measure(verifier: Verifier, { vocabularySize, threadCandidates, maxGuesses = 16 }: CostMeasureOptions): Promise<VerificationCostModel> {
        const evaluator = verifier.evaluator;
        const sampler = new PositionSampler({ temperature: 0 });
        // Guesses that are almost surely wrong, so every step pays for the erase as real rejected steps do.
        const guess = (i: number): Token => ((((i * 7919 + 13) % vocabularySize) + vocabularySize) % vocabularySize) as Token;
        const context: Token[] = Array.from({ length: 32 }, (_, i) => guess(i + 1000));
        const exact = verifier.exact;
        verifier.exact = false;
        try {
            await verifier.clear();
            const batchInvariant = await checkBatchInvariance(evaluator, context, vocabularySize, maxGuesses + 1);
            await verifier.clear();
            let pending = await verifier.prefill(context, sampler, 0);
            const step = async (n: number, salt: number): Promise<number> => {
                const guesses = Array.from({ length: n - 1 }, (_, i) => guess(salt * 31 + i));
                const t = performance.now();
                const verdict = await verifier.verify(pending, guesses, sampler, 1);
                const ms = performance.now() - t;
                pending = verdict.tokens.at(-1)!;
                // Keep the context short and constant so every size is measured at the same depth.
                await verifier.truncate(context.length);
                return ms;
            };
            const timeAt = async (threads: number, n: number, repetitions: number): Promise<number> => {
                evaluator.setThreadsFor?.(() => threads);
                await step(n, -1);
                let total = 0;
                for (let rep = 0; rep < repetitions; rep++) total += await step(n, rep);
                // The mean, not the median: a thread count that is fast most of the time but now and
                // then stalls (an OpenMP team on an oversubscribed core waits for a descheduled thread
                // at every barrier: measured 0.3 ms → 11 ms on stories260K) is slow in a real answer.
                return total / repetitions;
            };
            // Which thread count is fastest for one row and for a batch; then the curve, each size at
            // the count that won for its kind. Slow models get fewer repetitions and shorter batches,
            // so loading stays within seconds.
            let candidates = [...new Set(threadCandidates)].sort((a, b) => a - b);
            // A model that decodes a token in under a millisecond on one thread keeps one: a second
            // thread saves a fraction of that, and on a loaded or 2-core machine its OpenMP barriers
            // sometimes stall for a scheduler slice (stories260K, 2 threads: 0.3 ms, then 5–11 ms).
            if (candidates.length > 1 && candidates[0] === 1 && (await timeAt(1, 1, 8)) < 1) candidates = [1];
            const probe: { threads: number; one: number; batch: number }[] = [];
            for (const threads of candidates) {
                const fast = (await timeAt(threads, 1, 2)) < 5;
                probe.push({ threads, one: await timeAt(threads, 1, fast ? 24 : 3), batch: await timeAt(threads, 5, fast ? 12 : 2) });
            }
            // The most threads unless fewer are clearly faster: on a model this size they help (1.5B twin:
            // 329 ms a token on one thread, 192 on two), and a few noisy probes must not say otherwise.
            const pick = (cost: (p: (typeof probe)[number]) => number): number => {
                const most = probe.at(-1)!;
                const best = probe.reduce((a, b) => (cost(b) < cost(a) ? b : a));
                return cost(best) < cost(most) * 0.85 ? best.threads : most.threads;
            };
            const plainThreads = pick((p) => p.one);
            const batchThreads = pick((p) => p.batch);
            const plainMs = Math.min(...probe.map((p) => p.one));
            const slow = plainMs > 25;
            const repetitions = slow ? 3 : 7;
            const rows = slow ? Math.min(maxGuesses + 1, 9) : maxGuesses + 1;
            const sizes = measuredRows.filter((n) => n <= rows);
            const measured: number[] = [];
            for (const n of sizes) measured.push(await timeAt(n === 1 ? plainThreads : batchThreads, n, repetitions));
            await verifier.clear();
            const rowsMs = new Array<number>(maxGuesses + 2).fill(0);
            const threadsForRows = new Array<number>(maxGuesses + 2).fill(batchThreads);
            // Where a batch measured cheaper than a smaller one, measure both again: llama.cpp's kernels
            // change with the batch (a 4-row batch can cost less than a 3-row one), and a dip that holds
            // is kept so the reducer can use it; one that does not was noise and is clamped.
            const curve = await keepConfirmedDips(sizes, measured, (n) => timeAt(n === 1 ? plainThreads : batchThreads, n, repetitions));
            for (let n = 1; n <= maxGuesses + 1; n++) rowsMs[n] = interpolate(sizes, curve, n);
            threadsForRows[1] = plainThreads;
            // Past the last measured size the curve is extrapolated: never downwards.
            for (let n = sizes.at(-1)! + 1; n <= maxGuesses + 1; n++) rowsMs[n] = Math.max(rowsMs[n]!, rowsMs[n - 1]!);
            rowsMs[0] = rowsMs[1]!;
            threadsForRows[0] = threadsForRows[1]!;
            const model = new VerificationCostModel(rowsMs, threadsForRows, batchInvariant);
            evaluator.setThreadsFor?.((rows) => model.threadsFor(rows));
            return model;
        } finally {
            verifier.exact = exact;
        }
    }
}

/**
 * Whether row 0 of a batch gives exactly what a one-row decode gives, at 6 positions, for a batch of
 * two rows and one of `largest` rows: the drawn token and its probability (a float computed from the
 * logits, so equal logits give equal probabilities and different ones almost surely do not). When it
 * holds, plain and speculative greedy decoding take the same numeric path and agree token for token
 * even outside exact mode. The largest batch is checked too because llama.cpp's CPU kernels change
 * with the batch size: a 1.5B Q4_K twin agreed at two rows and departed from plain greedy output with
 * the oracle's nine-row batches.
 */
async function checkBatchInvariance(evaluator: SequenceEvaluator, context: readonly Token[], vocabularySize: number, largest: number): Promise<boolean> {
    const probe = { token: true, confidence: true } as const;
    const head = context.slice(0, 8);
    await evaluator.decode(head, head.map(() => null));
    for (let j = head.length; j < context.length - 1 && j < head.length + 6; j++) {
        const token = context[j]!;
        await evaluator.decode([token], [probe]);
        const one = await evaluator.draw(0);
        await evaluator.eraseFrom(j);
        for (const rows of new Set([2, Math.max(2, largest)])) {
            const batch = Array.from({ length: rows }, (_, i) => (i === 0 ? token : (((token + i) % vocabularySize) as Token)));
            await evaluator.decode(batch, batch.map(() => probe));
            const first = await evaluator.draw(0);
            await evaluator.eraseFrom(j + 1);
            if (one?.token !== first?.token || one?.confidence !== first?.confidence) return false;
        }
    }
    return true;
}

/** How much cheaper a larger batch must measure, twice, to be believed (timing noise here is a few %). */
const dipMargin = 0.05;

/**
 * The measured costs at `sizes` (ascending) with only confirmed dips left in: where a size measured
 * cheaper than the most expensive smaller one, both are measured again (`remeasure`) and the dip is
 * kept when the larger is again cheaper by more than `dipMargin` (its cost then the mean of its two
 * measurements, never above the smaller one's); otherwise it was noise and the cost is clamped to the
 * smaller one's, as a cost that cannot fall would be.
 */
export async function keepConfirmedDips(
    sizes: readonly number[],
    measured: readonly number[],
    remeasure: (rows: number) => Promise<number>
): Promise<number[]> {
    const curve = [...measured];
    let highest = 0; // index of the most expensive size so far
    for (let i = 1; i < sizes.length; i++) {
        if (curve[i]! >= curve[highest]!) {
            highest = i;
            continue;
        }
        const smaller = await remeasure(sizes[highest]!);
        const larger = await remeasure(sizes[i]!);
        curve[i] = larger < smaller * (1 - dipMargin) ? Math.min((curve[i]! + larger) / 2, curve[highest]!) : curve[highest]!;
    }
    return curve;
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
