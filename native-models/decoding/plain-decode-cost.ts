import type { Token } from "node-llama-cpp";
import { PositionSampler } from "./sampling.ts";
import type { Verifier } from "./verifier.ts";

/** One measured point of plain decoding: ms of a one-token decode when the KV cache holds `depth` tokens. */
export interface DepthCost {
    depth: number;
    msPerToken: number;
}

export interface PlainCostMeasureOptions {
    vocabularySize: number;
    /** The context's size: depths are spread up to it. */
    contextSize: number;
    /**
     * Wall time the measurement may take (prefills included); deeper points are left out past it.
     * Default: 2000 one-token decodes at depth 32, between 0.6 and 4 s.
     */
    budgetMs?: number;
}

/** Plain steps kept per depth band; their median stands for the band. */
const observationsPerBand = 16;
/** A band speaks for its depths once it has this many plain steps. */
const observationsToTrust = 4;

/**
 * What one plain one-token decode costs as a function of the context's depth, on the loaded model.
 * Attention reads every cached token, so on a small model a token at depth 1900 costs ~16x one at depth
 * 0 (stories260K, llama-bench): a baseline measured at a short context makes every long answer look
 * slow, plain decoding included. Measured at load at a few depths, then kept current from the plain
 * steps answers run. Every speedup Presage shows is `msFor` of the answer's tokens at their depths
 * over the time the answer's generation took.
 */
export class PlainDecodeCost {
    private readonly measured: DepthCost[];
    /** Plain steps seen in answers, by depth band: a ring of their depths and ms. */
    private readonly bands = new Map<number, DepthCost[]>();
    private readonly bandWidth: number;
    private cache: DepthCost[] | null = null;
    /** Plain steps observed since `points` was last rebuilt. */
    private unseen = 0;

    /**
     * @param points measured at load, any order
     * @param contextSize the context's size (bands of plain steps are a 32nd of it)
     */
    constructor(points: readonly DepthCost[], readonly contextSize: number) {
        this.measured = [...points].filter((p) => p.msPerToken > 0 && Number.isFinite(p.msPerToken)).sort((a, b) => a.depth - b.depth);
        this.bandWidth = Math.max(16, Math.floor(contextSize / 32));
    }

    /** The points predictions are made from: the load's, replaced where answers' plain steps say otherwise. */
    get points(): DepthCost[] {
        if (this.cache != null) return this.cache;
        const observed: DepthCost[] = [];
        for (const ring of this.bands.values())
            if (ring.length >= observationsToTrust)
                observed.push({ depth: ring.reduce((sum, o) => sum + o.depth, 0) / ring.length, msPerToken: median(ring.map((o) => o.msPerToken)) });
        const covered = (depth: number) => observed.some((o) => Math.abs(o.depth - depth) <= this.bandWidth / 2);
        this.cache = [...this.measured.filter((p) => !covered(p.depth)), ...observed].sort((a, b) => a.depth - b.depth);
        return this.cache;
    }

    /** The deepest context a prediction is given for: twice the deepest point, the context where that reaches it. */
    get knownDepth(): number {
        const deepest = this.points.at(-1)?.depth ?? -1;
        if (deepest < 0) return -1;
        return deepest * 2 >= this.contextSize / 2 ? this.contextSize : deepest * 2;
    }

    /**
     * ms of one plain decode at `depth`: linear between points (attention's cost is linear in depth),
     * flat before the first, the last segment's slope after the last; null past `knownDepth`.
     */
    msAt(depth: number): number | null {
        const p = this.points;
        if (p.length === 0 || depth > this.knownDepth) return null;
        if (p.length === 1 || depth <= p[0]!.depth) return p[0]!.msPerToken;
        let i = 1;
        while (i < p.length - 1 && p[i]!.depth < depth) i++;
        const a = p[i - 1]!, b = p[i]!;
        const slope = Math.max(0, (b.msPerToken - a.msPerToken) / (b.depth - a.depth));
        return Math.max(a.msPerToken, a.msPerToken + slope * (depth - a.depth));
    }

    /** ms plain decoding would take for `tokens` tokens, the first decoded at depth `depth`; null if unknown. */
    msFor(depth: number, tokens: number): number | null {
        if (tokens <= 0) return 0;
        // Linear over the few tokens of a step: the cost at their mean depth times their count.
        const ms = this.msAt(depth + (tokens - 1) / 2);
        return ms == null ? null : ms * tokens;
    }

    /** A plain one-token decode an answer ran at `depth`, in `ms` (decode and draw, nothing else). */
    observe(depth: number, ms: number): void {
        if (!(ms > 0) || !Number.isFinite(ms)) return;
        const band = Math.floor(depth / this.bandWidth);
        let ring = this.bands.get(band);
        if (ring == null) this.bands.set(band, (ring = []));
        ring.push({ depth, msPerToken: ms });
        if (ring.length > observationsPerBand) ring.shift();
        // Rebuilt every few steps, not every step: a step of a small model is a third of a millisecond.
        if (++this.unseen >= observationsPerBand) {
            this.unseen = 0;
            this.cache = null;
        }
    }

    /**
     * Measures one-token decodes at depths spread up to the context: prefill to each depth in turn
     * (one growing cache), time a few one-token decodes there, erase them. Stops where the next depth
     * would not fit in `budgetMs` (a 1.5 GB CPU model prefills some tens of tokens a second), so
     * `knownDepth` says how far predictions go. Leaves the sequence empty.
     */
    static async measure(verifier: Verifier, { vocabularySize, contextSize, budgetMs }: PlainCostMeasureOptions): Promise<PlainDecodeCost> {
        const started = performance.now();
        const exact = verifier.exact;
        verifier.exact = false;
        const sampler = new PositionSampler({ temperature: 0 });
        const token = (i: number): Token => ((i * 7919 + 13) % vocabularySize) as Token;
        const top = Math.max(32, contextSize - 48);
        const depths = [...new Set([32, contextSize / 8, contextSize / 4, contextSize / 2, (contextSize * 3) / 4, top].map((d) => Math.min(top, Math.round(d))))].sort((a, b) => a - b);
        const points: DepthCost[] = [];
        const context: Token[] = [];
        try {
            await verifier.clear();
            let prefillMsPerToken = 0;
            let lastDecodeMs = 0;
            let budget = budgetMs ?? Infinity;
            for (const depth of depths) {
                const grow = depth - context.length;
                const elapsed = performance.now() - started;
                // The next point's prefill and decodes, predicted from the last ones. A prefill's token
                // costs more the deeper it goes (attention again: stories260K prefilled 513 tokens in
                // 0.34 s and 1025 in 1.4 s on one thread), hence the depth ratio.
                const prefill = grow * prefillMsPerToken * (depth / Math.max(1, context.length));
                if (points.length > 0 && elapsed + prefill + 13 * lastDecodeMs * (depth / Math.max(1, context.length)) > budget) break;
                while (context.length < depth + 1) context.push(token(context.length));
                const t = performance.now();
                let pending = await verifier.prefill(context, sampler, 0);
                prefillMsPerToken = (performance.now() - t) / Math.max(1, grow);
                const slow = lastDecodeMs > 25;
                const repetitions = slow ? 3 : lastDecodeMs > 2 ? 6 : 12;
                const times: number[] = [];
                for (let rep = 0; rep <= repetitions; rep++) {
                    const s = performance.now();
                    const verdict = await verifier.verify(pending, [], sampler, 1);
                    const ms = performance.now() - s;
                    pending = verdict.tokens[0]!;
                    await verifier.truncate(depth);
                    // The first decode at a new depth warms caches; the rest are what an answer sees.
                    if (rep > 0) times.push(ms);
                }
                // The median, as for the plain steps of answers: a mean let one burst of another
                // process's work during load double a depth's cost (5.4 ms read for 2.6 ms).
                lastDecodeMs = median(times);
                if (points.length === 0) budget = budgetMs ?? Math.min(4000, Math.max(600, 2000 * lastDecodeMs));
                points.push({ depth, msPerToken: lastDecodeMs });
                context.length = depth;
            }
            await verifier.clear();
        } finally {
            verifier.exact = exact;
        }
        return new PlainDecodeCost(points, contextSize);
    }
}

function median(values: readonly number[]): number {
    const s = [...values].sort((a, b) => a - b);
    const m = s.length >> 1;
    return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
