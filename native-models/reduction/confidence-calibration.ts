/** Positions kept to fit on: recent enough to follow the conversation, enough to fit two numbers. */
const capacity = 256;
/** New positions between fits, at least. */
const refitEvery = 8;
/** Weight, in positions, of the prior (confidences taken at their word) against the evidence. */
const priorStrength = 1;
/** The least slope of acceptance against confidence (on the logit scale) a fit may have. */
const minSlope = 0.1;
/** Weight, in verdicts, of the hopeful start of `acceptanceRate`. */
const hopefulVerdicts = 8;
/** Confidences are clamped away from 0 and 1 before their logit is taken. */
const edge = 1e-4;

/**
 * What one source's confidence is worth: the probability that the target accepts a token the source
 * gave confidence c, as σ(a + b·logit c) (Platt scaling), fitted by logistic regression on the last
 * positions the target judged and shrunk towards a = 0, b = 1 (the confidence as it is) while there is
 * little evidence.
 *
 * One scale factor (accepted ÷ predicted) cannot say this: a small draft model of a near twin of the
 * target is unsure of its top token often, yet the greedy target agrees with that token most of the
 * time (measured on the heavy twin: confidence 0.25 accepted 61%, 0.55 accepted 83%, 0.97 accepted
 * 99%), so its mid-confidence guesses were never verified. Sampled from the target, acceptance follows
 * the confidence much more closely; the engine keeps greedy and sampled answers' calibrations apart.
 */
export class ConfidenceCalibration {
    private a = 0;
    private b = 1;
    private readonly logits = new Float64Array(capacity);
    private readonly labels = new Uint8Array(capacity);
    private count = 0;
    /** Acceptances among the kept verdicts. */
    private accepted = 0;
    private next = 0;
    private sinceFit = 0;

    /** The probability that a token given `confidence` is accepted. */
    probability(confidence: number): number {
        return sigmoid(this.a + this.b * logit(confidence));
    }

    /**
     * The least confidence whose token is accepted with probability `p` at least: where a drafter that
     * drafts token by token should stop. 0 when every confidence reaches it, above 1 when none does.
     */
    confidenceFor(p: number): number {
        if (this.probability(edge) >= p) return 0;
        if (this.probability(1 - edge) < p) return 2;
        // b > 0 here (probability rises with confidence between the two checks above).
        return sigmoid((logit(p) - this.a) / this.b);
    }

    /**
     * How often the kept verdicts were acceptances, starting from a hopeful 0.98 (worth eight
     * verdicts) so that a new source is given room to show what it can do.
     */
    acceptanceRate(): number {
        return (this.accepted + 0.98 * hopefulVerdicts) / (this.count + hopefulVerdicts);
    }

    /** The target's verdict on one judged position. */
    observe(confidence: number, accepted: boolean): void {
        // The ring is full once count reaches capacity: the verdict overwritten leaves the tally.
        if (this.count === capacity) this.accepted -= this.labels[this.next]!;
        this.logits[this.next] = logit(confidence);
        this.labels[this.next] = accepted ? 1 : 0;
        this.accepted += this.labels[this.next]!;
        this.next = (this.next + 1) % capacity;
        this.count = Math.min(capacity, this.count + 1);
        // Often while there is little to go on, then every eighth of what is kept (a fit reads it all).
        if (++this.sinceFit >= Math.max(refitEvery, this.count / 8)) this.fit();
    }

    /**
     * Drifts back towards taking confidences at their word. A source whose guesses lose to another's
     * is not verified, so it could never show it had become right; this lets it be tried again.
     */
    relax(factor: number): void {
        this.a *= factor;
        this.b = 1 + (this.b - 1) * factor;
    }

    /**
     * Regularised logistic regression in two unknowns: Newton steps from the last fit, each halved
     * until it lowers the loss (a full step overshoots when the verdicts are nearly all one way).
     */
    private fit(): void {
        this.sinceFit = 0;
        let [a, b] = this.solve(this.a, Math.max(minSlope, this.b), false);
        // Higher confidence never means a lower chance: verdicts at one confidence only (an n-gram
        // source's counts often say the same) would otherwise tilt the line through that point and
        // promise a lot for confidences never seen.
        if (b < minSlope) [a, b] = this.solve(a, minSlope, true);
        if (Number.isFinite(a) && Number.isFinite(b)) {
            this.a = a;
            this.b = b;
        }
    }

    /** Newton's method on the loss from (a, b); with `fixedSlope`, over a alone. */
    private solve(a: number, b: number, fixedSlope: boolean): [number, number] {
        let loss = this.loss(a, b);
        for (let iteration = 0; iteration < 16; iteration++) {
            let ga = priorStrength * a, gb = priorStrength * (b - 1);
            let haa = priorStrength, hab = 0, hbb = priorStrength;
            for (let i = 0; i < this.count; i++) {
                const x = this.logits[i]!;
                const p = sigmoid(a + b * x);
                const r = p - this.labels[i]!;
                const w = p * (1 - p);
                ga += r;
                gb += r * x;
                haa += w;
                hab += w * x;
                hbb += w * x * x;
            }
            const det = haa * hbb - hab * hab;
            if (!(det > 0)) break;
            let da = fixedSlope ? ga / haa : (hbb * ga - hab * gb) / det;
            let db = fixedSlope ? 0 : (haa * gb - hab * ga) / det;
            let next = this.loss(a - da, b - db);
            for (let halvings = 0; next > loss && halvings < 30; halvings++) {
                da /= 2;
                db /= 2;
                next = this.loss(a - da, b - db);
            }
            if (!(next <= loss)) break;
            a -= da;
            b -= db;
            const gain = loss - next;
            loss = next;
            if (gain < 1e-9) break;
        }
        return [a, b];
    }

    /** Log-loss of the kept verdicts under (a, b), plus the prior's pull. */
    private loss(a: number, b: number): number {
        let sum = (priorStrength / 2) * (a * a + (b - 1) * (b - 1));
        for (let i = 0; i < this.count; i++) {
            const z = a + b * this.logits[i]!;
            // log(1 + e^-z) for an accepted token, log(1 + e^z) for a rejected one, computed stably.
            const m = this.labels[i] ? -z : z;
            sum += m > 0 ? m + Math.log1p(Math.exp(-m)) : Math.log1p(Math.exp(m));
        }
        return sum;
    }
}

function logit(p: number): number {
    const q = Math.min(1 - edge, Math.max(edge, p));
    return Math.log(q / (1 - q));
}

function sigmoid(x: number): number {
    return 1 / (1 + Math.exp(-x));
}
