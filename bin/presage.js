#!/usr/bin/env node
// The CLI runs the TypeScript sources directly through tsx, so `npx presage` works right after `npm ci`
// with no build step and no Electron.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

// node-llama-cpp runs every llama.cpp call on a libuv pool thread, and each pool thread gets its own
// OpenMP team: with more than one pool thread, idle teams spin against the working one (measured on a
// 2-core machine: plain decoding 46.8 → 83.0 tok/s with one pool thread). Node reads the pool size once,
// when the pool starts, which is before this file runs (ES modules are read through it), so a process
// that was not started with it re-runs itself with it.
if (process.env.UV_THREADPOOL_SIZE !== "1") {
    const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), ...process.argv.slice(2)], {
        stdio: "inherit",
        env: { ...process.env, UV_THREADPOOL_SIZE: "1" }
    });
    // Ctrl+C reaches the child directly (same process group); other signals are passed on.
    process.on("SIGINT", () => undefined);
    for (const signal of ["SIGTERM", "SIGHUP"]) process.on(signal, () => child.kill(signal));
    child.on("exit", (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
} else {
    const { register } = await import("tsx/esm/api");
    register();
    const { main } = await import("../cli/main.ts");
    const code = await main(process.argv.slice(2));
    // Exit once stdout is flushed: a cancelled download or a native handle must not keep a finished
    // command alive.
    process.stdout.write("", () => process.exit(code));
}
