import { cpus, totalmem, type } from "node:os";
import { readFileSync } from "node:fs";
import type { LlamaContext, Token } from "node-llama-cpp";
import { firstDivergence, nearTieBound, plainMargins } from "../native-models/decoding/near-ties.ts";
import { nativeClock } from "../native-models/decoding/sequence-evaluator.ts";
import type { GenerateResult, PresageEngine } from "../native-models/engine/presage-engine.ts";
import { measureChatPath, type ChatPathResult } from "./chat-path.ts";
import { measureRaces, type RaceBenchResult } from "./race.ts";
import type { BenchStrategy, PreparedWorkload, Workload, WorkloadOptions } from "./workload.ts";

export interface StrategyResult {
    strategy: string;
    /** Median over prompts and rounds of (fastest plain decoding's time ÷ this row's time), same round. */
    speedup: number;
    /** The quartiles of those ratios: how much single answers move on this machine. */
    speedupQuartiles: [number, number];
    tokensPerSecond: number;
    meanAcceptedLength: number;
    acceptanceRate: number;
    /** Every run produced exactly the plain one-token run's tokens (same seed when sampling); null for the reference rows. */
    identicalToPlain: boolean | null;
    /** Runs whose output departed from plain decoding at a near-tie (top-two margin below the bound); greedy only. */
    nearTieDivergences: number;
    /** Runs whose output departed from plain decoding at all. */
    divergences: number;
    /** Wall time of the run ÷ time spent in llama.cpp's decode and sample calls, minus one: the loop's own cost. */
    loopOverhead: number | null;
    /** The median of the answers' own `speedupEstimate` (what the stats bar shows); null where none was given. */
    estimate: number | null;
    /** Where the row's time went: guessing (drafters, a draft model's decodes included) and llama.cpp's calls (both models), as shares of the wall time. */
    time: { drafting: number; llamaCpp: number } | null;
    runs: number;
}

export interface WorkloadResult {
    name: string;
    description: string;
    temperature: number;
    maxTokens: number;
    prompts: number;
    notes: string[];
    /** The fastest plain decoding of this workload's model, measured in this run: every speedup's baseline. */
    baseline: { strategy: "plain" | "llamacompletion"; threads: number; tokensPerSecond: number };
    /** Size of the target model file. */
    modelMiB: number;
    /** Cost of one decode of n rows as a multiple of one row, measured on the loaded model. */
    costCurve: { rows: number; multiple: number }[];
    /** A one-row decode and drawing the token after it (one pass over the vocabulary), ms each. */
    drawCost: { decodeMs: number; drawMs: number };
    batchInvariant: boolean | null;
    /** Plain one-token decoding's cost by context depth, as the engine measured it at load. */
    plainByDepth: { depth: number; msPerToken: number }[];
    strategies: StrategyResult[];
}

export interface BenchReport {
    command: string;
    date: string;
    machine: { cpu: string; cores: number; memoryGiB: number; lastLevelCacheMiB: number | null; os: string; node: string; backend: string; nodeLlamaCpp: string; threadPool: string };
    quick: boolean;
    workloads: WorkloadResult[];
    /** Filled by workloads that measure more than decoding (the datastore micro-benchmark, the chat path). */
    datastore?: unknown;
    chatPath?: ChatPathResult;
    race?: RaceBenchResult;
    errors: { workload: string; error: string }[];
}

export interface RunBenchOptions extends WorkloadOptions {
    workloads: Workload[];
    command: string;
    rounds?: number;
    /** Also compare the streamed API with the engine (default true). */
    chatPath?: boolean;
}

/**
 * Runs every workload: for each prompt, plain decoding, node-llama-cpp's `LlamaCompletion` and every
 * strategy in rotating order within a round, so slow drift of the machine hits all rows alike. The
 * baseline is whichever plain decoding (Presage's one-token loop or `LlamaCompletion`) was faster; a
 * speedup is the ratio to that row's time in the same round, and the figure reported is the median.
 */
export async function runBenchmarks(options: RunBenchOptions): Promise<BenchReport> {
    const { log } = options;
    const report: BenchReport = {
        command: options.command,
        date: new Date().toISOString(),
        machine: machine(),
        quick: options.quick,
        workloads: [],
        errors: []
    };
    const rounds = options.rounds ?? (options.quick ? 1 : 3);
    for (const workload of options.workloads) {
        log(`# ${workload.name}: preparing`);
        let prepared: PreparedWorkload;
        try {
            prepared = await workload.prepare(options);
        } catch (err) {
            log(`# ${workload.name}: skipped: ${(err as Error).message}`);
            report.errors.push({ workload: workload.name, error: (err as Error).message });
            continue;
        }
        try {
            const info = prepared.engine.info;
            // As measured at load, before the answers below keep it current.
            const loadCurve = info.calibration?.plainByDepth ?? [];
            report.machine.backend = `${info.backend.backend}${info.backend.devices.length ? ` (${info.backend.devices.join(", ")})` : ""}`;
            const reference = await referenceContext(prepared.engine, prepared.prompts[0]!, log);
            const costCurve = await measureCostCurve(prepared.engine);
            log(`# ${workload.name}: cost curve ${costCurve.map((c) => `${c.rows}:${c.multiple.toFixed(2)}`).join(" ")}`);
            const drawCost = await measureDrawCost(prepared.engine);
            log(`# ${workload.name}: one-row decode ${drawCost.decodeMs.toFixed(2)} ms, drawing its token ${drawCost.drawMs.toFixed(2)} ms`);
            for (const temperature of workload.temperatures) {
                const result = await runWorkload(workload, prepared, temperature, prepared.rounds ?? rounds, reference, log);
                report.workloads.push({ ...result, costCurve, drawCost, batchInvariant: info.calibration?.batchInvariant ?? null, plainByDepth: loadCurve });
            }
            await reference.dispose();
            if (prepared.extra != null) Object.assign(report, await prepared.extra());
        } finally {
            await prepared.dispose();
        }
    }
    if (options.chatPath !== false) {
        log("# chat path: streamed API vs the engine");
        try {
            // A round is six answers of a fifth of a second: many rounds are cheap and steady the medians.
            report.chatPath = await measureChatPath({ rounds: options.quick ? 11 : 31 });
        } catch (err) {
            report.errors.push({ workload: "chat-path", error: (err as Error).message });
        }
        log("# race: the Race view's path, auto against plain");
        try {
            report.race = await measureRaces({ races: options.quick ? 5 : 10 });
        } catch (err) {
            report.errors.push({ workload: "race", error: (err as Error).message });
        }
    }
    return report;
}

interface Sample {
    ms: number;
    tokens: number;
    meanAcceptedLength: number;
    drafted: number;
    accepted: number;
    nativeMs: number;
    draftMs: number;
    divergedAt: number;
    estimate: number | null;
}

async function runWorkload(
    workload: Workload,
    prepared: PreparedWorkload,
    temperature: number,
    rounds: number,
    reference: LlamaContext,
    log: (line: string) => void
): Promise<Omit<WorkloadResult, "costCurve" | "drawCost" | "batchInvariant" | "plainByDepth">> {
    const { engine, prompts, maxTokens } = prepared;
    const rows: BenchStrategy[] = [{ name: "plain", strategies: ["none"] }, { name: "llamacompletion", strategies: [] }, ...prepared.rows];
    const samples = new Map<string, Sample[]>(rows.map((r) => [r.name, []]));
    const roundTimes: Map<string, number>[] = [];
    const near = new Map<string, number>(rows.map((r) => [r.name, 0]));
    // Load what each strategy needs (draft contexts, derived early-exit files) outside the timings.
    for (const row of prepared.rows)
        if (!row.oracle) await engine.generate({ prompt: prompts[0]!, maxTokens: 16, strategies: row.strategies, exact: row.exact });
    for (let p = 0; p < prompts.length; p++) {
        const prompt = prompts[p]!;
        const seed = 1000 + p;
        const sampling = { temperature, seed };
        // Warm-up and the reference output: plain one-token decoding (the oracle replays it).
        const expected = await engine.generate({ prompt, maxTokens, sampling });
        let margins: number[] | null = null;
        for (let round = 0; round < rounds; round++) {
            const times = new Map<string, number>();
            for (const row of rotate(rows, round + p)) {
                const before = nativeClock.ms;
                const t = performance.now();
                let result: GenerateResult | null = null;
                let tokens: Token[];
                let draftMs = 0;
                if (row.name === "llamacompletion") tokens = await llamaCompletion(reference, engine.tokenize(prompt), maxTokens, temperature, seed);
                else {
                    result = await engine.generate({ prompt, maxTokens, sampling, strategies: row.strategies, oracle: row.oracle ? expected.tokens : undefined, maxDraft: row.maxDraft, exact: row.exact, onStep: (step) => void (draftMs += step.draftMs ?? 0) });
                    tokens = result.tokens;
                }
                const ms = performance.now() - t;
                times.set(row.name, ms);
                const divergedAt = firstDivergence(tokens, expected.tokens);
                if (divergedAt >= 0 && temperature === 0) {
                    margins ??= await plainMargins(engine.model, engine.tokenize(prompt), expected.tokens, engine.threads);
                    if ((margins[divergedAt] ?? 1) < nearTieBound) near.set(row.name, near.get(row.name)! + 1);
                }
                samples.get(row.name)!.push({
                    ms, tokens: tokens.length, divergedAt,
                    meanAcceptedLength: result?.stats.meanAcceptedLength ?? 1,
                    drafted: result?.stats.drafted ?? 0,
                    accepted: result?.stats.accepted ?? 0,
                    nativeMs: result == null ? 0 : nativeClock.ms - before,
                    draftMs,
                    estimate: result?.stats.speedupEstimate ?? null
                });
            }
            roundTimes.push(times);
        }
    }
    const rate = (name: string) => median(samples.get(name)!.map((x) => (x.tokens * 1000) / x.ms));
    const baselineName = rate("llamacompletion") > rate("plain") ? "llamacompletion" : "plain";
    const strategies: StrategyResult[] = rows.map((row) => {
        const s = samples.get(row.name)!;
        const drafted = s.reduce((a, x) => a + x.drafted, 0);
        const native = s.reduce((a, x) => a + x.nativeMs, 0);
        const wall = s.reduce((a, x) => a + x.ms, 0);
        const reference = row.name === "llamacompletion";
        return {
            strategy: row.name,
            ...speedupOf(roundTimes.map((times) => times.get(baselineName)! / times.get(row.name)!)),
            tokensPerSecond: rate(row.name),
            meanAcceptedLength: median(s.map((x) => x.meanAcceptedLength)),
            acceptanceRate: drafted > 0 ? s.reduce((a, x) => a + x.accepted, 0) / drafted : 0,
            identicalToPlain: row.name === "plain" ? null : s.every((x) => x.divergedAt < 0),
            nearTieDivergences: near.get(row.name)!,
            divergences: s.filter((x) => x.divergedAt >= 0).length,
            loopOverhead: reference || native <= 0 ? null : wall / native - 1,
            estimate: s.every((x) => x.estimate != null) && s.length > 0 ? median(s.map((x) => x.estimate!)) : null,
            time: reference || wall <= 0 ? null : { drafting: s.reduce((a, x) => a + x.draftMs, 0) / wall, llamaCpp: native / wall },
            runs: s.length
        };
    });
    const baseline = strategies.find((s) => s.strategy === baselineName)!;
    for (const s of strategies)
        log(`${workload.name} t=${temperature} ${s.strategy.padEnd(16)} ${s.speedup.toFixed(2)}x  ${s.tokensPerSecond.toFixed(1)} tok/s  mal ${s.meanAcceptedLength.toFixed(2)}  acc ${(s.acceptanceRate * 100).toFixed(0)}%  diverged ${s.divergences} (near-tie ${s.nearTieDivergences})`);
    return {
        name: workload.name, description: workload.description, temperature, maxTokens, prompts: prompts.length, notes: prepared.notes,
        baseline: { strategy: baselineName, threads: baselineName === "plain" ? engine.threads : reference.currentThreads, tokensPerSecond: baseline.tokensPerSecond },
        modelMiB: Math.round(engine.model.size / 2 ** 20),
        strategies
    };
}

/**
 * The cost of one decode of n rows as a multiple of one row, each at the thread count the engine
 * chose for it (mean of several decodes on a short context).
 */
async function measureCostCurve(engine: PresageEngine, rowCounts: readonly number[] = [1, 2, 3, 4, 6, 8, 12, 16]): Promise<{ rows: number; multiple: number }[]> {
    return engine.exclusive(async () => {
        const evaluator = engine.verifier.evaluator;
        const base = Array.from({ length: 16 }, (_, i) => (i + 3) as Token);
        await evaluator.eraseFrom(0);
        await evaluator.decode(base, base.map(() => null));
        const ms = new Map<number, number>();
        const slow = engine.cost.plainTokenMs > 25;
        for (const n of rowCounts) {
            const times: number[] = [];
            for (let rep = -1; rep < (slow ? 3 : 9); rep++) {
                const tokens = Array.from({ length: n }, (_, i) => ((rep + 2) * 17 + i + 5) as Token);
                const t = performance.now();
                await evaluator.decode(tokens, tokens.map(() => ({ token: true } as const)));
                if (rep >= 0) times.push(performance.now() - t);
                await evaluator.eraseFrom(base.length);
            }
            ms.set(n, times.reduce((a, b) => a + b, 0) / times.length);
        }
        await evaluator.eraseFrom(0);
        return rowCounts.map((n) => ({ rows: n, multiple: ms.get(n)! / ms.get(1)! }));
    });
}

/**
 * What drawing one token costs beside the decode of its row: a pass over the whole vocabulary's
 * logits, the part of each step that grows with the vocabulary (151,936 rows for Qwen, 512 for
 * stories260K). Means of several one-row decodes on a short context, each drawn after it had finished.
 */
async function measureDrawCost(engine: PresageEngine): Promise<{ decodeMs: number; drawMs: number }> {
    return engine.exclusive(async () => {
        const evaluator = engine.verifier.evaluator;
        const base = Array.from({ length: 16 }, (_, i) => (i + 3) as Token);
        await evaluator.eraseFrom(0);
        await evaluator.decode(base, base.map(() => null));
        const decode: number[] = [];
        const draw: number[] = [];
        const reps = engine.cost.plainTokenMs > 25 ? 4 : 12;
        for (let rep = -1; rep < reps; rep++) {
            const token = ((rep + 2) * 29 + 7) as Token;
            let t = performance.now();
            await evaluator.decode([token], [{ token: true }]);
            const decoded = performance.now() - t;
            t = performance.now();
            await evaluator.draw(0);
            if (rep >= 0) {
                decode.push(decoded);
                draw.push(performance.now() - t);
            }
            await evaluator.eraseFrom(base.length);
        }
        await evaluator.eraseFrom(0);
        const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
        return { decodeMs: mean(decode), drawMs: mean(draw) };
    });
}

/**
 * A second context on the same model for node-llama-cpp's own plain decoding loop, with
 * whichever thread count makes it fastest here: the strictest reference.
 */
async function referenceContext(engine: PresageEngine, prompt: string, log: (line: string) => void): Promise<LlamaContext> {
    const options = [...new Set([1, engine.info.backend.cpuMathCores])];
    let best: { context: LlamaContext; ms: number } | null = null;
    for (const threads of options) {
        const context = await engine.model.createContext({ contextSize: engine.context.contextSize, threads, sequences: 1 });
        await llamaCompletion(context, engine.tokenize(prompt), 16, 0, 1);
        const t = performance.now();
        await llamaCompletion(context, engine.tokenize(prompt), 32, 0, 1);
        const ms = performance.now() - t;
        if (best == null || ms < best.ms) {
            await best?.context.dispose();
            best = { context, ms };
        } else await context.dispose();
    }
    log(`# llamacompletion reference: ${best!.context.currentThreads} thread(s)`);
    return best!.context;
}

/**
 * node-llama-cpp's own one-token decoding loop, `LlamaContextSequence.evaluate`: what `LlamaCompletion`
 * runs, fed the same prompt tokens as the engine (`LlamaCompletion` itself tokenizes without
 * SentencePiece's leading space, so its prompts, and outputs, differ from llama.cpp's).
 */
async function llamaCompletion(context: LlamaContext, prompt: readonly Token[], maxTokens: number, temperature: number, seed: number): Promise<Token[]> {
    const sequence = context.getSequence();
    try {
        const tokens: Token[] = [];
        for await (const token of sequence.evaluate([...prompt], { temperature, seed })) {
            if (context.model.isEogToken(token)) break;
            tokens.push(token);
            if (tokens.length >= maxTokens) break;
        }
        return tokens;
    } finally {
        sequence.dispose();
    }
}

function speedupOf(ratios: number[]): Pick<StrategyResult, "speedup" | "speedupQuartiles"> {
    const s = spread(ratios);
    return { speedup: s.median, speedupQuartiles: [s.q1, s.q3] };
}

function rotate<T>(items: readonly T[], by: number): T[] {
    const k = by % items.length;
    return [...items.slice(k), ...items.slice(0, k)];
}

/** A median of ratios measured within each round, and the quartiles: the middle half of the rounds lies between q1 and q3. */
export interface Spread {
    median: number;
    q1: number;
    q3: number;
}

/** The median and the quartiles (the middle half lies between q1 and q3), linearly interpolated. */
export function spread(values: number[]): Spread {
    return { median: median(values), q1: quantile(values, 0.25), q3: quantile(values, 0.75) };
}

function quantile(values: number[], q: number): number {
    if (values.length === 0) return 0;
    const sorted = [...values].sort((a, b) => a - b);
    const at = (sorted.length - 1) * q;
    const lo = Math.floor(at);
    return sorted[lo]! + (sorted[Math.min(lo + 1, sorted.length - 1)]! - sorted[lo]!) * (at - lo);
}

export function median(values: number[]): number {
    return quantile(values, 0.5);
}

function machine(): BenchReport["machine"] {
    const cpu = cpus();
    return {
        cpu: cpu[0]?.model ?? "unknown",
        cores: cpu.length,
        memoryGiB: Math.round(totalmem() / 2 ** 30),
        lastLevelCacheMiB: lastLevelCacheMiB(),
        os: `${type()} ${process.arch}`,
        node: process.version,
        backend: "",
        nodeLlamaCpp: "3.21.1",
        threadPool: `UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? "unset (4)"}`
    };
}

/** The largest CPU cache level's size (Linux sysfs), or null where it cannot be read. */
function lastLevelCacheMiB(): number | null {
    let best: number | null = null;
    for (let i = 0; i < 8; i++) {
        try {
            const text = readFileSync(`/sys/devices/system/cpu/cpu0/cache/index${i}/size`, "utf8").trim();
            const m = /^(\d+)([KMG])?$/.exec(text);
            if (m == null) continue;
            const mib = Number(m[1]) * ({ K: 1 / 1024, M: 1, G: 1024 }[(m[2] ?? "K") as "K" | "M" | "G"]);
            if (best == null || mib > best) best = mib;
        } catch {
            break;
        }
    }
    return best;
}
