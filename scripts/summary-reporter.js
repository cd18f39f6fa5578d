// A Vitest reporter that writes the run's counts as JSON to the file named by PRESAGE_TEST_SUMMARY,
// for scripts/test.js's closing line. Vitest's own JSON report has no place for a failure that is not
// a test's: a file that cannot load, a suite whose setup throws, an error thrown after a test ended.
import { writeFileSync } from "node:fs";

export default class SummaryReporter {
    onTestRunEnd(testModules, unhandledErrors, reason) {
        let passed = 0, failed = 0, skipped = 0;
        for (const module of testModules) {
            let failedTests = 0;
            for (const test of module.children.allTests()) {
                const state = test.result().state;
                if (state === "passed") passed++;
                else if (state === "failed") failedTests++;
                else skipped++;
            }
            failed += failedTests;
            // A file that failed without a failed test (it did not load, or a hook threw) is one failure.
            if (failedTests === 0 && module.state() === "failed") failed++;
        }
        // Errors outside any test, and a run that was cut short, are failures too.
        failed += unhandledErrors.length;
        if (reason === "interrupted" && failed === 0) failed = 1;
        const file = process.env.PRESAGE_TEST_SUMMARY;
        if (file) writeFileSync(file, JSON.stringify({ passed, failed, skipped }));
    }
}
