/**
 * What the governor has measured, kept from one answer to the next (the engine keeps one per loaded
 * model, beside the reducer's memory).
 */
export interface GovernorMemory {
    /** Decayed sums over recent guessing steps (tokens produced and ms spent, see `Throughput`). */
    guessing: Throughput;
    /** ms per token of the most recent plain steps (a ring of `plainSamples`), and where the next goes. */
    plain: number[];
    plainNext: number;
    /**
     * Where in the schedule the decoder is: a window of guessing steps, a window of plain steps that
     * measures the plain rate, or a back-off of plain steps after guessing lost. Steps and ms so far in it.
     */
    phase: "guessing" | "measuring" | "backoff";
    steps: number;
    ms: number;
    /** Plain steps the current or next back-off lasts; doubles while guessing keeps losing. */
    backoff: number;
    /** Guessing windows since the plain rate was last measured. */
    sinceRefresh: number;
    /** Tokens beyond one a step that the last guessing window's steps produced: what its guesses gained. */
    windowGain: number;
}

/** Sums over steps of their tokens t and ms m, and of t², m² and t·m for the rate's standard error. */
interface Throughput {
    steps: number;
    tokens: number;
    ms: number;
    tt: number;
    mm: number;
    tm: number;
}

function emptyThroughput(): Throughput {
    return { steps: 0, tokens: 0, ms: 0, tt: 0, mm: 0, tm: 0 };
}

function halve(g: Throughput): void {
    g.steps /= 2;
    g.tokens /= 2;
    g.ms /= 2;
    g.tt /= 2;
    g.mm /= 2;
    g.tm /= 2;
}

/** Steps of guessing measured before each comparison... */
const guessWindow = 32;
/** ...or fewer on a slow model, at least 8, once they have taken this long; also bounds a measuring window. */
const windowMs = 500;
const minWindow = 8;
/** Plain steps measured to learn or refresh the plain rate (at least 3 within `windowMs`). */
const plainWindow = 8;
const minPlainWindow = 3;
/** Guessing windows between refreshes of the plain rate. */
const refreshEvery = 8;
/** First and longest back-off, in plain steps, or this many ms per step of it on a slow model. */
const minBackoff = 64;
const maxBackoff = 2048;
const backoffMsPerStep = 16;
/** Tokens of guessing history kept: older steps are halved away. */
const horizon = 256;

/** Plain steps remembered: four measuring windows. */
const plainSamples = 32;

export function createGovernorMemory(): GovernorMemory {
    return { guessing: emptyThroughput(), plain: [], plainNext: 0, phase: "guessing", steps: 0, ms: 0, backoff: 0, sinceRefresh: 0, windowGain: 0 };
}

/**
 * Keeps `auto` (and every single strategy) from being slower than plain decoding, by measurement rather
 * than by model. Hypothesis reduction decides each step from a cost model and learned acceptance; that
 * model leaves out what a small model's loop really spends (lookups, awaits, draws, bookkeeping) and can
 * be wrong for a while. The governor times whole steps, end to end, in two kinds: steps that ask the
 * drafters, and plain one-token steps that skip them entirely; when guessing has produced tokens more
 * slowly than plain steps, it switches to plain steps for a back-off that doubles while guessing keeps
 * losing, then guesses for one window again. On a slow model windows and back-offs are bounded in time
 * too (half a second of guessing and of measuring, a second for the first back-off), so a strategy that
 * does not pay there is dropped within about two seconds and a wrong verdict costs about a second. Plain steps are the
 * baseline itself, so learning and refreshing the plain rate never costs speed against it, only some of
 * the gain.
 *
 * Either kind of step leaves the output exactly as the target decides it: this only chooses how fast.
 */
export class SpeculationGovernor {
    constructor(private readonly memory: GovernorMemory = createGovernorMemory()) {}

    /** Whether the next step asks the drafters for guesses (else it is a plain one-token step). */
    shouldGuess(): boolean {
        return this.memory.phase === "guessing";
    }

    /** Records one whole step (drafting, verifying and the caller's streaming): `tokens` produced in `ms`. */
    record(tokens: number, ms: number): void {
        const m = this.memory;
        if (tokens > 0 && ms >= 0) {
            if (m.phase === "guessing") {
                const g = m.guessing;
                g.steps++;
                g.tokens += tokens;
                g.ms += ms;
                g.tt += tokens * tokens;
                g.mm += ms * ms;
                g.tm += tokens * ms;
                if (g.tokens > horizon) halve(g);
                m.windowGain += tokens - 1;
            } else {
                m.plain[m.plainNext] = ms / tokens;
                m.plainNext = (m.plainNext + 1) % plainSamples;
            }
        }
        m.steps++;
        m.ms += Math.max(0, ms);
        switch (m.phase) {
            case "guessing":
                if (m.steps < guessWindow && (m.steps < minWindow || m.ms < windowMs)) return;
                // Learn the plain rate first, and refresh it now and then: it drifts with the context
                // length and the machine's load.
                if (m.plain.length === 0 || ++m.sinceRefresh >= refreshEvery) {
                    m.sinceRefresh = 0;
                    this.enter("measuring");
                } else this.judge();
                return;
            case "measuring":
                if (m.steps < plainWindow && (m.steps < minPlainWindow || m.ms < windowMs)) return;
                this.judge();
                return;
            case "backoff":
                if (m.steps < m.backoff && m.ms < m.backoff * backoffMsPerStep) return;
                this.enter("guessing");
        }
    }

    /**
     * Guesses on while guessing has been at least as fast as plain steps; backs off once it is slower by
     * more than its standard error (one step accepts four guesses, the next none: a few steps prove
     * little, and a wrong back-off costs a model's real gains); in between, gathers more steps.
     */
    private judge(): void {
        const m = this.memory;
        const g = m.guessing;
        const plainRate = 1 / this.plainMsPerToken();
        const rate = g.ms > 0 ? g.tokens / g.ms : Infinity;
        const error = standardError(g, rate);
        // A window whose guesses added no token cannot have beaten plain steps, however close its
        // timing (the lookups that found nothing are its whole difference: a few percent on
        // stories260K with past answers to search, within one window's spread). Back off.
        const gained = m.windowGain > 0;
        if (gained && rate + error >= plainRate) {
            // Faster, or too close to tell: guess on. Only a clear win forgets past losses, else a source
            // that is about even (its lookups cost what its rare accepted guesses save) would win a window
            // by chance every few probes and be probed at the shortest back-off for good.
            if (rate - error > plainRate) m.backoff = 0;
            this.enter("guessing");
            return;
        }
        m.backoff = Math.min(maxBackoff, m.backoff === 0 ? minBackoff : m.backoff * 2);
        // What was measured while guessing lost is forgotten, so the next window is judged on its own.
        m.guessing = emptyThroughput();
        this.enter("backoff");
    }

    /** ms per token of each kind of step, as measured so far (null where nothing was measured). */
    rates(): { guessing: number | null; plain: number | null } {
        const m = this.memory;
        return { guessing: m.guessing.tokens > 0 ? m.guessing.ms / m.guessing.tokens : null, plain: m.plain.length > 0 ? this.plainMsPerToken() : null };
    }

    /**
     * The median plain step: plain windows are short (8 steps, a few milliseconds on a small model), and
     * one step caught by a collection or the scheduler would otherwise make every guessing window look
     * faster than plain decoding until it aged out. The median errs the other way, towards plain steps.
     */
    private plainMsPerToken(): number {
        const sorted = this.memory.plain.slice().sort((a, b) => a - b);
        const mid = sorted.length >> 1;
        return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
    }

    private enter(phase: GovernorMemory["phase"]): void {
        if (phase === "guessing") this.memory.windowGain = 0;
        this.memory.phase = phase;
        this.memory.steps = 0;
        this.memory.ms = 0;
    }
}

/**
 * Standard error of the ratio estimate tokens ÷ ms over the steps summed in `g` (the delta method: the
 * spread of each step's tokens − rate × ms, over the mean ms a step).
 */
function standardError(g: Throughput, rate: number): number {
    if (g.steps < 2 || g.ms <= 0) return Infinity;
    const residuals = Math.max(0, g.tt - 2 * rate * g.tm + rate * rate * g.mm);
    return Math.sqrt(residuals / (g.steps * (g.steps - 1))) / (g.ms / g.steps);
}
