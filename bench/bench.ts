import { cpus, totalmem, type } from "node:os";
import { LlamaCompletion, type LlamaContext, type Token } from "node-llama-cpp";
import type { GenerateResult, PresageEngine } from "../native-models/engine/presage-engine.ts";
import type { BenchStrategy, Workload, WorkloadOptions } from "./workload.ts";

export interface StrategyResult {
    strategy: string;
    /** Median over prompts and rounds of plain time / this strategy's time, measured in the same round. */
    speedup: number;
    /** The same against node-llama-cpp's own plain decoding (LlamaCompletion), the stricter baseline. */
    speedupVsLlamaCompletion: number;
    tokensPerSecond: number;
    meanAcceptedLength: number;
    acceptanceRate: number;
    /** Every run produced exactly the plain run's tokens (same seed when sampling); null for the reference row. */
    identicalToPlain: boolean | null;
    runs: number;
}

export interface WorkloadResult {
    name: string;
    description: string;
    temperature: number;
    maxTokens: number;
    prompts: number;
    notes: string[];
    strategies: StrategyResult[];
}

export interface BenchReport {
    command: string;
    date: string;
    machine: { cpu: string; cores: number; memoryGiB: number; os: string; node: string; backend: string; nodeLlamaCpp: string };
    quick: boolean;
    workloads: WorkloadResult[];
    /** Filled by workloads that measure more than decoding (the datastore micro-benchmark). */
    datastore?: unknown;
    errors: { workload: string; error: string }[];
}

export interface RunBenchOptions extends WorkloadOptions {
    workloads: Workload[];
    command: string;
    rounds?: number;
}

/**
 * Runs every workload: for each prompt, plain decoding and every strategy in rotating order within a
 * round, so slow drift of the machine (thermal, other processes) hits all rows alike; a speedup is the
 * ratio to the plain run of the same round, and the reported figure is the median of those ratios.
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
        let prepared;
        try {
            prepared = await workload.prepare(options);
        } catch (err) {
            log(`# ${workload.name}: skipped: ${(err as Error).message}`);
            report.errors.push({ workload: workload.name, error: (err as Error).message });
            continue;
        }
        try {
            report.machine.backend = `${prepared.engine.info.backend.backend}${prepared.engine.info.backend.devices.length ? ` (${prepared.engine.info.backend.devices.join(", ")})` : ""}`;
            const reference = await referenceContext(prepared.engine, prepared.prompts[0]!, log);
            prepared.notes.push(`engine on ${prepared.engine.threads} thread(s), LlamaCompletion reference on ${reference.currentThreads}`);
            for (const temperature of workload.temperatures) {
                const result = await runWorkload(workload, prepared, temperature, rounds, reference, log);
                report.workloads.push(result);
            }
            await reference.dispose();
            if (prepared.extra != null) Object.assign(report, await prepared.extra());
        } finally {
            await prepared.dispose();
        }
    }
    return report;
}

interface Sample {
    ms: number;
    plainMs: number;
    referenceMs: number;
    tokens: number;
    meanAcceptedLength: number;
    drafted: number;
    accepted: number;
    identical: boolean;
}

async function runWorkload(
    workload: Workload,
    prepared: Awaited<ReturnType<Workload["prepare"]>>,
    temperature: number,
    rounds: number,
    reference: LlamaContext,
    log: (line: string) => void
): Promise<WorkloadResult> {
    const { engine, prompts, maxTokens } = prepared;
    const rows: BenchStrategy[] = [{ name: "plain", strategies: ["none"] }, ...prepared.rows, { name: "llamacompletion", strategies: [] }];
    const samples = new Map<string, Sample[]>(rows.map((r) => [r.name, []]));
    // Load what each strategy needs (draft contexts, derived early-exit files) outside the timings.
    for (const row of prepared.rows)
        if (!row.oracle) await engine.generate({ prompt: prompts[0]!, maxTokens: 16, strategies: row.strategies });
    for (let p = 0; p < prompts.length; p++) {
        const prompt = prompts[p]!;
        const seed = 1000 + p;
        const sampling = { temperature, seed };
        // Warm-up and reference output (the oracle replays it).
        const expected = await engine.generate({ prompt, maxTokens, sampling });
        for (let round = 0; round < rounds; round++) {
            const order = rotate(rows, round + p);
            const times = new Map<string, { ms: number; result: GenerateResult | null; tokens: number }>();
            for (const row of order) {
                if (row.name === "llamacompletion") {
                    const t = performance.now();
                    const tokens = await llamaCompletion(reference, prompt, maxTokens, temperature, seed);
                    times.set(row.name, { ms: performance.now() - t, result: null, tokens });
                    continue;
                }
                const t = performance.now();
                const result = await engine.generate({
                    prompt, maxTokens, sampling,
                    strategies: row.strategies,
                    oracle: row.oracle ? expected.tokens : undefined,
                    maxDraft: row.maxDraft
                });
                times.set(row.name, { ms: performance.now() - t, result, tokens: result.tokens.length });
            }
            const plainMs = times.get("plain")!.ms;
            const referenceMs = times.get("llamacompletion")!.ms;
            for (const row of rows) {
                const { ms, result, tokens } = times.get(row.name)!;
                samples.get(row.name)!.push({
                    ms, plainMs, referenceMs, tokens,
                    meanAcceptedLength: result?.stats.meanAcceptedLength ?? 1,
                    drafted: result?.stats.drafted ?? 0,
                    accepted: result?.stats.accepted ?? 0,
                    identical: result == null ? true : sameTokens(result.tokens, expected.tokens)
                });
            }
        }
    }
    const strategies: StrategyResult[] = rows.map((row) => {
        const s = samples.get(row.name)!;
        const drafted = s.reduce((a, x) => a + x.drafted, 0);
        return {
            strategy: row.name,
            speedup: median(s.map((x) => x.plainMs / x.ms)),
            speedupVsLlamaCompletion: median(s.map((x) => x.referenceMs / x.ms)),
            tokensPerSecond: median(s.map((x) => (x.tokens * 1000) / x.ms)),
            meanAcceptedLength: median(s.map((x) => x.meanAcceptedLength)),
            acceptanceRate: drafted > 0 ? s.reduce((a, x) => a + x.accepted, 0) / drafted : 0,
            identicalToPlain: row.name === "llamacompletion" ? null : s.every((x) => x.identical),
            runs: s.length
        };
    });
    for (const s of strategies)
        log(`${workload.name} t=${temperature} ${s.strategy.padEnd(16)} ${s.speedup.toFixed(2)}x  ${s.tokensPerSecond.toFixed(1)} tok/s  mal ${s.meanAcceptedLength.toFixed(2)}  acc ${(s.acceptanceRate * 100).toFixed(0)}%  identical ${s.identicalToPlain}`);
    return { name: workload.name, description: workload.description, temperature, maxTokens, prompts: prompts.length, notes: prepared.notes, strategies };
}

/**
 * A second context on the same model for node-llama-cpp's own plain decoding (LlamaCompletion), with
 * whichever thread count makes it fastest here (one thread or the engine's): the strictest baseline.
 */
async function referenceContext(engine: PresageEngine, prompt: string, log: (line: string) => void): Promise<LlamaContext> {
    const options = [...new Set([1, engine.threads])];
    let best: { context: LlamaContext; ms: number } | null = null;
    for (const threads of options) {
        const context = await engine.model.createContext({ contextSize: engine.context.contextSize, threads, sequences: 1 });
        await llamaCompletion(context, prompt, 16, 0, 1);
        const t = performance.now();
        await llamaCompletion(context, prompt, 48, 0, 1);
        const ms = performance.now() - t;
        if (best == null || ms < best.ms) {
            await best?.context.dispose();
            best = { context, ms };
        } else await context.dispose();
    }
    log(`# llamacompletion reference: ${best!.context.currentThreads} thread(s)`);
    return best!.context;
}

async function llamaCompletion(context: LlamaContext, prompt: string, maxTokens: number, temperature: number, seed: number): Promise<number> {
    const sequence = context.getSequence();
    try {
        let tokens = 0;
        await new LlamaCompletion({ contextSequence: sequence }).generateCompletion(prompt, {
            maxTokens, temperature, seed,
            onToken: (t: Token[]) => { tokens += t.length; }
        });
        return tokens;
    } finally {
        sequence.dispose();
    }
}

function sameTokens(a: readonly Token[], b: readonly Token[]): boolean {
    return a.length === b.length && a.every((t, i) => t === b[i]);
}

function rotate<T>(items: readonly T[], by: number): T[] {
    const k = by % items.length;
    return [...items.slice(k), ...items.slice(0, k)];
}

export function median(values: number[]): number {
    if (values.length === 0) return 0;
    const sorted = [...values].sort((a, b) => a - b);
    const mid = sorted.length >> 1;
    return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function machine(): BenchReport["machine"] {
    const cpu = cpus();
    return {
        cpu: cpu[0]?.model ?? "unknown",
        cores: cpu.length,
        memoryGiB: Math.round(totalmem() / 2 ** 30),
        os: `${type()} ${process.arch}`,
        node: process.version,
        backend: "",
        nodeLlamaCpp: "3.21.1"
    };
}
