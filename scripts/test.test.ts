import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { expect, it } from "vitest";
import { packageRoot } from "../native-models/models-dir.ts";

it("ends with a line that counts every failure, including files that fail to load or in setup", () => {
    const fixtures = join(packageRoot, "scripts", "test-fixtures");
    const run = spawnSync(process.execPath, [join(packageRoot, "scripts", "test.js"), "--root", fixtures, "--config", join(fixtures, "vitest.config.ts")], {
        cwd: packageRoot, encoding: "utf8", timeout: 120_000
    });
    const lines = run.stdout.trim().split("\n");
    // pass: 1 passed; fail: 1 passed + 1 failed; broken: cannot load; hook: setup throws (its 2 tests
    // skipped); unhandled: its test passes, then an error is thrown outside it.
    expect(lines.at(-1)).toBe("3 passed, 4 failed, 2 skipped");
    expect(run.status).toBe(1);
});
