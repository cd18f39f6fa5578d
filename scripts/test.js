#!/usr/bin/env node
// Runs the type checks (tsc over the TypeScript, svelte-check over the window's components), Vitest,
// and, on a whole run, the engine's tests once more on node-llama-cpp's public evaluation path (the
// fallback if its internals move). Ends with the plain line "N passed, N failed": Vitest's results
// counted by scripts/summary-reporter.js, each type check and each extra run counted as one. Every
// failure counts: failed tests, files that cannot load, suites whose setup throws, stray errors.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
const whole = args.length === 0;
const env = { ...process.env, UV_THREADPOOL_SIZE: "1" };
let passed = 0, failed = 0, skipped = 0;

/** A command counted as one test; its output shows only when it fails. */
function check(name, command, commandArgs, extraEnv = {}) {
    const r = spawnSync(process.execPath, [command, ...commandArgs], { encoding: "utf8", env: { ...env, ...extraEnv } });
    if (r.status === 0) {
        passed++;
        console.log(`✓ ${name}`);
    } else {
        failed++;
        console.log(`✗ ${name}\n${r.stdout}${r.stderr}`);
    }
}

if (whole) {
    check("tsc --noEmit (every TypeScript file)", "node_modules/typescript/bin/tsc", ["--noEmit", "-p", "tsconfig.json"]);
    check("svelte-check (the window's components)", "node_modules/svelte-check/bin/svelte-check", ["--tsconfig", "./tsconfig.json", "--threshold", "error", "--output", "human"]);
}

/** One Vitest run; adds its counts. */
function vitest(vitestArgs, extraEnv = {}) {
    const dir = mkdtempSync(join(tmpdir(), "presage-test-"));
    const summaryFile = join(dir, "summary.json");
    const reporter = fileURLToPath(new URL("./summary-reporter.js", import.meta.url));
    const result = spawnSync(
        process.execPath,
        ["node_modules/vitest/vitest.mjs", "run", "--reporter=default", `--reporter=${reporter}`, ...vitestArgs],
        // One libuv pool thread in every test process (and the CLIs they spawn): see bin/presage.js.
        { stdio: "inherit", env: { ...env, ...extraEnv, PRESAGE_TEST_SUMMARY: summaryFile } }
    );
    let counts = { passed: 0, failed: 0, skipped: 0 };
    try {
        counts = JSON.parse(readFileSync(summaryFile, "utf8"));
    } catch {
        // No summary: Vitest did not get as far as running (a broken config, a crash).
    }
    // Vitest failed in a way no count shows: the line must not read as a pass.
    if (result.status !== 0 && counts.failed === 0) counts.failed = 1;
    rmSync(dir, { recursive: true, force: true });
    passed += counts.passed;
    failed += counts.failed;
    skipped += counts.skipped;
}

vitest(args);
if (whole) {
    console.log("\nThe engine's tests again on node-llama-cpp's public evaluation path (PRESAGE_PUBLIC_EVALUATE=1):");
    vitest(["native-models/engine", "native-models/decoding/drafting.test.ts"], { PRESAGE_PUBLIC_EVALUATE: "1" });
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exitCode = failed === 0 ? 0 : 1;
