#!/usr/bin/env node
// Runs Vitest and ends with the plain line "N passed, N failed" counted by scripts/summary-reporter.js
// from Vitest's own results, so CI reads the run right whatever the default reporter prints. Every
// failure counts: failed tests, files that cannot load, suites whose setup throws, stray errors.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const dir = mkdtempSync(join(tmpdir(), "presage-test-"));
const summaryFile = join(dir, "summary.json");
const reporter = fileURLToPath(new URL("./summary-reporter.js", import.meta.url));
const result = spawnSync(
    process.execPath,
    ["node_modules/vitest/vitest.mjs", "run", "--reporter=default", `--reporter=${reporter}`, ...process.argv.slice(2)],
    // One libuv pool thread in every test process (and the CLIs they spawn): see bin/presage.js.
    { stdio: "inherit", env: { ...process.env, UV_THREADPOOL_SIZE: "1", PRESAGE_TEST_SUMMARY: summaryFile } }
);
let passed = 0, failed = 0, skipped = 0;
try {
    ({ passed, failed, skipped } = JSON.parse(readFileSync(summaryFile, "utf8")));
} catch {
    // No summary: Vitest did not get as far as running (a broken config, a crash).
}
// Vitest failed in a way no count shows: the line must not read as a pass.
if (result.status !== 0 && failed === 0) failed = 1;
rmSync(dir, { recursive: true, force: true });
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exitCode = result.status === 0 && failed === 0 ? 0 : 1;
