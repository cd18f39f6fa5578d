import { parseArgs, type ParseArgsConfig } from "node:util";
import type { BackendChoice } from "../native-models/runtime/llama-runtime.ts";
import { parseRpcEndpoints } from "../native-models/runtime/rpc-workers.ts";

/** A mistake in how the command was called: printed with a hint to `--help`, exit code 2. */
export class UsageError extends Error {}

/** A failure the user can act on (bad file, incompatible model): printed as one line, exit code 1. */
export class CliError extends Error {}

export interface Command {
    /** The word after `presage`, e.g. `generate`. */
    readonly name: string;
    /** One line for `presage --help`. */
    readonly summary: string;
    /** The full `--help` text. */
    readonly help: string;
    run(argv: string[]): Promise<number>;
}

type Options = NonNullable<ParseArgsConfig["options"]>;

/**
 * `util.parseArgs` in strict mode, with `--help` and `--json` everywhere and its errors turned into
 * one-line usage errors.
 */
export function parseCommandArgs<T extends Options>(argv: string[], options: T, { positionals = false } = {}) {
    try {
        return parseArgs({
            args: argv,
            options: { help: { type: "boolean", short: "h" }, json: { type: "boolean" }, ...options },
            allowPositionals: positionals,
            strict: true
        });
    } catch (err) {
        throw new UsageError((err as Error).message.split("\n")[0]);
    }
}

/** Parses an integer option, refusing anything that is not a whole number within [min, max]. */
export function intOption(value: string | undefined, name: string, fallback: number, min = 0, max = Number.MAX_SAFE_INTEGER): number {
    if (value == null) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max)
        throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got "${value}"`);
    return n;
}

/** Parses a number option within [min, max]. */
export function numberOption(value: string | undefined, name: string, fallback: number, min = -Infinity, max = Infinity): number {
    if (value == null) return fallback;
    const n = Number(value);
    if (!Number.isFinite(n) || n < min || n > max)
        throw new UsageError(`--${name} must be a number from ${min} to ${max}, got "${value}"`);
    return n;
}

/** Parses `--backend`: one of llama.cpp's backends a user may name, `auto` when left out. */
export function backendOption(value: string | undefined): BackendChoice {
    if (value == null) return "auto";
    if (!backendChoices.includes(value as BackendChoice)) throw new UsageError(`--backend must be one of ${backendChoices.join(", ")}, got "${value}"`);
    return value as BackendChoice;
}

/** Parses `--rpc host:port,...` into the endpoints as llama.cpp takes them; undefined when left out. */
export function rpcOption(value: string | undefined): string[] | undefined {
    if (value == null) return undefined;
    let workers: string[];
    try {
        workers = parseRpcEndpoints(value).map((e) => e.text);
    } catch (err) {
        throw new UsageError(`--rpc: ${(err as Error).message}`);
    }
    if (workers.length === 0) throw new UsageError("--rpc needs at least one host:port");
    return workers;
}

const backendChoices: readonly BackendChoice[] = ["auto", "cpu", "metal", "cuda", "vulkan"];

export function requireOption<T>(value: T | undefined, name: string): T {
    if (value == null || value === "") throw new UsageError(`--${name} is required`);
    return value;
}

/** Prints one JSON object on stdout (the `--json` contract of every subcommand). */
export function printJson(value: unknown): void {
    process.stdout.write(JSON.stringify(value) + "\n");
}
