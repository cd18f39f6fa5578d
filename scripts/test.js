#!/usr/bin/env node
// Runs Vitest and ends with the plain line "N passed, N failed" computed from Vitest's own JSON
// summary, so CI reads the run right whatever the default reporter prints.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dir = mkdtempSync(join(tmpdir(), "presage-test-"));
const report = join(dir, "vitest.json");
const result = spawnSync(
    process.execPath,
    ["node_modules/vitest/vitest.mjs", "run", "--reporter=default", "--reporter=json", `--outputFile.json=${report}`, ...process.argv.slice(2)],
    // One libuv pool thread in every test process (and the CLIs they spawn): see bin/presage.js.
    { stdio: "inherit", env: { ...process.env, UV_THREADPOOL_SIZE: "1" } }
);
let passed = 0, failed = 0, skipped = 0;
try {
    const summary = JSON.parse(readFileSync(report, "utf8"));
    passed = summary.numPassedTests;
    failed = summary.numFailedTests + (summary.numRuntimeErrorTestSuites ?? 0);
    skipped = summary.numPendingTests + (summary.numTodoTests ?? 0);
    // A file that fails to load has no tests to count: count it as a failure rather than hide it.
    for (const file of summary.testResults ?? [])
        if (file.status === "failed" && (file.assertionResults ?? []).length === 0) failed++;
} catch {
    failed = Math.max(failed, 1);
}
rmSync(dir, { recursive: true, force: true });
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exitCode = result.status === 0 && failed === 0 ? 0 : 1;
