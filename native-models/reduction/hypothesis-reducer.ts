import type { Token } from "node-llama-cpp";
import type { DraftSource, Hypothesis } from "../drafters/drafter.ts";
import type { VerificationCostModel } from "../decoding/cost-model.ts";
import { ConfidenceCalibration } from "./confidence-calibration.ts";

/** The guesses chosen for one verification step. */
export interface Reduction {
    source: DraftSource | null;
    tokens: Token[];
    /** The drafter's own confidence in each chosen token, kept to learn from the verdict. */
    confidence: number[];
}

/** What hypothesis reduction has learned about each source. */
export interface ReducerMemory {
    /** What each source's confidences are worth, learned from the positions the target judged. */
    calibration: Map<DraftSource, ConfidenceCalibration>;
    /** Proposals asked for, ms spent drafting them, tokens they got accepted; when to ask again. */
    usage: Map<DraftSource, SourceUsage>;
    /** Steps seen, across answers: the clock of the probing schedule. */
    clock: { steps: number };
    /**
     * What steps really cost against the cost model's prediction (moving averages of actual ÷ measured):
     * plain steps, steps that verified guesses (extra draws, erasing, more tokens to observe), and the
     * latter by how many guesses they verified (`byGuesses[k]`, with how many steps it has seen).
     */
    steps: { plain: number; verified: number; byGuesses: { ratio: number; seen: number }[] };
}

interface SourceUsage {
    calls: number;
    /** Queries timed (all but the first few, see `recordDrafting`) and the ms they took. */
    timed: number;
    ms: number;
    gained: number;
    /** What verifying its chains cost beyond the plain decode each of those steps replaced. */
    extraMs: number;
    /** While not paying off, the source is asked again at this step, and the wait doubles each time. */
    nextProbe: number;
    backoff: number;
}

/** Steps of one length seen before their own cost replaces the model's (see `verifyCost`). */
const minSeen = 4;

/** Queries of a source not timed: they carry the JIT's first compilations (see `recordDrafting`). */
const coldQueries = 2;

export function createReducerMemory(): ReducerMemory {
    return { calibration: new Map(), usage: new Map(), clock: { steps: 0 }, steps: { plain: 1, verified: 1, byGuesses: [] } };
}

export interface HypothesisReducerOptions {
    /** Upper bound on guesses per step; "auto" lets the cost model decide alone. */
    maxDraft?: number | "auto";
}

/** The least probability of acceptance worth drafting a token for (llama.cpp's `--draft-p-min`, calibrated). */
const minWorthDrafting = 0.3;

/**
 * Hypothesis reduction (SLiM): pool every drafter's guesses, estimate for each token the probability
 * that the target accepts it, and verify only the one chain — cut at the length — that maximises the
 * expected tokens per millisecond under the measured verification cost.
 *
 * The posterior of a token is the drafter's own confidence through a per-source calibration learned
 * online from the positions the target actually judged (`ConfidenceCalibration`), so a drafter that is
 * overconfident on this conversation is trusted less within a few steps, an underconfident one more,
 * and one that stops helping is dropped because its chains no longer pay for their verification.
 */
export class HypothesisReducer {
    private readonly calibration: ReducerMemory["calibration"];
    private readonly usage: ReducerMemory["usage"];
    private readonly clock: ReducerMemory["clock"];
    private readonly steps: ReducerMemory["steps"];
    private readonly maxDraft: number;

    /**
     * `memory` carries what was learned about each source from one answer to the next (the engine keeps
     * one per loaded model), so a drafter that did not pay off is not retried from scratch every answer.
     */
    constructor(private readonly cost: VerificationCostModel, options: HypothesisReducerOptions = {}, memory: ReducerMemory = createReducerMemory()) {
        this.calibration = memory.calibration;
        this.usage = memory.usage;
        this.clock = memory.clock;
        this.steps = memory.steps;
        this.maxDraft = options.maxDraft === "auto" || options.maxDraft == null ? cost.maxGuesses : Math.min(options.maxDraft, cost.maxGuesses);
    }

    /** The chain to verify, or no guesses when none pays for itself. `limit` caps its length. */
    reduce(hypotheses: readonly Hypothesis[], limit: number): Reduction {
        const cap = Math.min(limit, this.maxDraft);
        let best: Reduction = { source: null, tokens: [], confidence: [] };
        let bestRate = 1 / this.cost.cost(0);
        for (const h of hypotheses) {
            const calibration = this.calibrationOf(h.source);
            let expected = 1;
            let survive = 1;
            const n = Math.min(cap, h.tokens.length);
            for (let i = 0; i < n; i++) {
                survive *= Math.min(0.98, calibration.probability(h.confidence[i]!));
                expected += survive;
                const rate = expected / this.verifyCost(i + 1);
                if (rate > bestRate) {
                    bestRate = rate;
                    best = { source: h.source, tokens: h.tokens.slice(0, i + 1), confidence: h.confidence.slice(0, i + 1) };
                }
                if (survive < 1e-3) break;
            }
        }
        // A source that proposed but lost drifts back towards its prior, so one bad spell does not
        // shut it out for good: never verified, it could never show it had become right.
        for (const h of hypotheses) if (h.source !== best.source) this.calibration.get(h.source)?.relax(0.97);
        return best;
    }

    /**
     * The most tokens worth drafting from `source`: the chain length that pays best for its
     * verification if every token were accepted as often as the source's have been lately. A draft
     * model drafts token by token, so this keeps it from drafting 16 tokens of which 4 get verified.
     * At least one, so a source that has fallen behind can still show it has become right.
     */
    draftLimit(source: DraftSource, limit: number): number {
        const survival = Math.min(0.98, this.calibrationOf(source).acceptanceRate());
        const cap = Math.min(limit, this.maxDraft);
        let expected = 1;
        let survive = 1;
        let bestRate = 1 / this.cost.cost(0);
        let best = 1;
        for (let k = 1; k <= cap; k++) {
            survive *= survival;
            expected += survive;
            const rate = expected / this.verifyCost(k);
            if (rate > bestRate) {
                bestRate = rate;
                best = k;
            }
        }
        return Math.min(best, cap);
    }

    /**
     * Whether asking `source` for guesses is still worth its drafting time (a draft model's forward
     * passes are not free). A source whose accepted tokens save less time than it spends drafting is
     * asked only now and then, so it can come back when the text turns its way.
     */
    shouldQuery(source: DraftSource): boolean {
        // Without a measured cost model there is nothing to weigh drafting time against.
        if (this.cost.batchInvariant == null) return true;
        const u = this.usage.get(source);
        // A few steps first: a source often has nothing to say until the text has repeated itself.
        if (u == null || u.calls < 8) return true;
        // Net of what its verified steps cost beyond plain ones: accepted tokens are not free either.
        const plain = this.plainStepMs();
        const saved = (u.gained * plain - u.extraMs) / u.calls;
        // Drafting that is negligible beside a token is always worth it. On a model that decodes a
        // token in half a millisecond, a 40 µs lookup is not negligible: it must earn its keep.
        const drafting = u.timed > 0 ? u.ms / u.timed : 0;
        if (saved >= drafting || drafting < 0.02 * plain) {
            u.backoff = 32;
            return true;
        }
        const now = this.clock.steps;
        if (now < u.nextProbe) return false;
        // Probe, then wait twice as long before the next probe while it keeps not paying off.
        u.nextProbe = now + u.backoff;
        u.backoff = Math.min(u.backoff * 2, 4096);
        return true;
    }

    /**
     * Records what a step cost, drafting left out: `guesses` verified in `ms`. On a model that decodes a
     * token in a fraction of a millisecond, a verified step's draws and bookkeeping are not small beside
     * the batch itself, and the measured batch cost alone would verify guesses that do not pay.
     */
    observeStep(guesses: number, ms: number, source: DraftSource | null = null): void {
        // Against an unmeasured (flat) cost model the ratio means nothing.
        if (this.cost.batchInvariant == null) return;
        const predicted = this.cost.cost(guesses);
        if (!(predicted > 0) || !(ms > 0)) return;
        if (guesses === 0) this.steps.plain = 0.95 * this.steps.plain + 0.05 * (ms / predicted);
        else {
            this.steps.verified = 0.9 * this.steps.verified + 0.1 * (ms / predicted);
            const k = (this.steps.byGuesses[guesses] ??= { ratio: 0, seen: 0 });
            k.ratio = k.seen === 0 ? ms / predicted : 0.9 * k.ratio + 0.1 * (ms / predicted);
            k.seen++;
            const u = source == null ? undefined : this.usage.get(source);
            if (u != null) u.extraMs += Math.max(0, ms - this.plainStepMs());
        }
    }

    /** What a plain one-token step really costs here: the measured decode, scaled by what steps took. */
    private plainStepMs(): number {
        return this.cost.cost(0) * this.steps.plain;
    }

    /**
     * What verifying k guesses really costs here: the cost model's measured batch, scaled by how verified
     * steps compare with plain steps in this session. Once steps of k guesses have been seen, by what they
     * took, either way: a calibration at load is a few decodes, and on a CPU model one noisy moment there
     * (a two-row batch measured at 2.0× a token instead of 1.6×) would keep a good draft model from being
     * verified for the whole session. Until then by all verified steps, and never below the measured
     * batch, so an unseen length is not guessed cheap. Never below a plain step either.
     */
    private verifyCost(k: number): number {
        const plain = Math.max(1e-9, this.steps.plain);
        const seen = this.steps.byGuesses[k];
        const scale = seen != null && seen.seen >= minSeen
            ? Math.min(4, Math.max(0.5, seen.ratio / plain))
            : Math.max(1, this.steps.verified / plain);
        return Math.max(this.cost.cost(0), this.cost.cost(k) * scale);
    }

    /** Advances the probing clock; the decoder calls it once per step. */
    tick(): void {
        this.clock.steps++;
    }

    /** Records the time `source` took to propose. */
    recordDrafting(source: DraftSource, ms: number): void {
        const u = this.usage.get(source) ?? { calls: 0, timed: 0, ms: 0, gained: 0, extraMs: 0, nextProbe: 0, backoff: 32 };
        u.calls++;
        // A source's first queries run cold (V8 compiles a lookup as it first runs it: milliseconds
        // against tens of microseconds later), which would shut out a new source on its first answer.
        if (u.calls > coldQueries) {
            u.timed++;
            u.ms += ms;
        }
        if (u.calls > 64) {
            u.calls /= 2;
            u.timed /= 2;
            u.ms /= 2;
            u.gained /= 2;
            u.extraMs /= 2;
        }
        this.usage.set(source, u);
    }

    /** Learns from the target's verdict on a reduction: `accepted` of its tokens were right. */
    learn(reduction: Reduction, accepted: number): void {
        if (reduction.source == null) return;
        const u = this.usage.get(reduction.source);
        if (u != null) u.gained += accepted;
        const calibration = this.calibrationOf(reduction.source);
        // Only positions the target judged count: up to and including the first rejection.
        const judged = Math.min(reduction.tokens.length, accepted + 1);
        for (let i = 0; i < judged; i++) calibration.observe(reduction.confidence[i]!, i < accepted);
    }

    /** The probability that the target accepts a token `source` gave `confidence`, as learned so far. */
    acceptance(source: DraftSource, confidence: number): number {
        return this.calibrationOf(source).probability(confidence);
    }

    /**
     * The least confidence worth drafting a token at for `source`: a drafter that drafts token by
     * token (a draft model) stops below it. Calibrated, so an underconfident draft model keeps going.
     */
    minConfidence(source: DraftSource): number {
        return this.calibrationOf(source).confidenceFor(minWorthDrafting);
    }

    private calibrationOf(source: DraftSource): ConfidenceCalibration {
        let c = this.calibration.get(source);
        if (c == null) this.calibration.set(source, (c = new ConfidenceCalibration()));
        return c;
    }
}
