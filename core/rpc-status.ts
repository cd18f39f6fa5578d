import { existsSync } from "node:fs";
import type { RpcWorkersStatus } from "./app-api.ts";
import { hasRpcRuntime } from "../native-models/runtime/llama-runtime.ts";
import { parseRpcEndpoints, rpcAddonPath, rpcExposureWarning } from "../native-models/runtime/rpc-workers.ts";

/**
 * Why remote workers cannot be used with the binaries here (one line), or null when they can: the
 * prebuilt llama.cpp binaries have no RPC backend, and Presage's addon that registers workers is built
 * with it (`npm run build:rpc`).
 */
export function rpcBuildMissing(): string | null {
    const binding = hasRpcRuntime();
    const addon = existsSync(rpcAddonPath);
    if (binding && addon) return null;
    const what = !binding && !addon ? "llama.cpp's RPC backend and Presage's RPC addon are" : !binding ? "llama.cpp's RPC backend is" : "Presage's RPC addon is";
    return `${what} not built here (the prebuilt llama.cpp binaries have no RPC backend): run \`npm run build:rpc\` once (about 20 minutes on 2 cores), then restart Presage.`;
}

/** The settings' worker list in the form llama.cpp takes (`host:port`, IPv6 in brackets); throws one line naming a bad entry. */
export function normalizeRpcWorkers(list: readonly string[]): string[] {
    return parseRpcEndpoints(list).map((e) => e.text);
}

/**
 * The workers a load uses from the settings, or undefined for none: the settings' list where the RPC
 * build is here (without it the setting says what is missing, and models load here as before).
 */
export function rpcWorkersForLoad(list: readonly string[]): string[] | undefined {
    return list.length === 0 || rpcBuildMissing() != null ? undefined : [...list];
}

/** What the Settings view says about the worker list: what is missing, and one warning per exposed worker. */
export async function rpcWorkersStatus(list: readonly string[]): Promise<RpcWorkersStatus> {
    const warnings = await Promise.all(parseRpcEndpoints(list).map((e) => rpcExposureWarning(e)));
    return { missing: rpcBuildMissing(), warnings: warnings.filter((w): w is string => w != null) };
}
