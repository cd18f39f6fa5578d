import type { PresageEngine } from "../native-models/engine/presage-engine.ts";
import type { StrategyName } from "../native-models/engine/strategy.ts";
import type { BackendChoice } from "../native-models/runtime/llama-runtime.ts";

/** A row of the benchmark: a strategy list, or the oracle (the loop's ceiling). */
export interface BenchStrategy {
    name: string;
    strategies: StrategyName[];
    oracle?: boolean;
    /** Guesses per step for the oracle row. */
    maxDraft?: number;
    /** Run in exact mode (every batch at least two rows). */
    exact?: boolean;
}

/** A prepared workload: an engine and what to run on it. */
export interface PreparedWorkload {
    engine: PresageEngine;
    prompts: string[];
    maxTokens: number;
    rows: BenchStrategy[];
    /** Rounds for this workload, where the run's default would take too long (a slow model). */
    rounds?: number;
    /** Facts for the report (model sizes, corpus size). */
    notes: string[];
    /** Measurements beside decoding (the datastore micro-benchmark), merged into the report. */
    extra?: () => Promise<{ datastore?: unknown }>;
    dispose(): Promise<void>;
}

export interface WorkloadOptions {
    quick: boolean;
    /** The llama.cpp backend the workloads load their models on (default: auto). */
    backend?: BackendChoice;
    cacheDir: string;
    log: (line: string) => void;
}

export interface Workload {
    name: string;
    description: string;
    temperatures: number[];
    prepare(options: WorkloadOptions): Promise<PreparedWorkload>;
}
