import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { describeWithStories } from "../native-models/testing/stories.ts";

const work = mkdtempSync(join(tmpdir(), "presage-cli-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const presage = (...args: string[]) => spawnSync(process.execPath, ["bin/presage.js", ...args], { encoding: "utf8" });

describe("presage generate", () => {
    it("generates 16 tokens from a synthesized model, the same ones on every run", () => {
        const model = join(work, "t.gguf");
        execFileSync(process.execPath, ["bin/presage.js", "gguf", "synth", "--out", model]);
        const runs = [0, 1].map(() => {
            const r = presage("generate", "--model", model, "--prompt", "hi", "--max-tokens", "16", "--json");
            expect(r.status, r.stderr).toBe(0);
            return JSON.parse(r.stdout);
        });
        expect(runs[0].tokens).toHaveLength(16);
        expect(runs[1].tokens).toEqual(runs[0].tokens);
        expect(runs[0].stats).toMatchObject({ tokens: 16 });
        expect(runs[0].stats.tokensPerSecond).toBeGreaterThan(0);
        expect(typeof runs[0].text).toBe("string");
    });

    it("explains bad arguments in one line with exit code 2", () => {
        for (const args of [["--prompt", "x"], ["--model", "m", "--prompt", "x", "--max-tokens", "ten"], ["--model", "m", "--prompt", "x", "--strategy", "magic"], ["--bogus"]]) {
            const r = presage("generate", ...args);
            expect(r.status).toBe(2);
            expect(r.stderr.trim().split("\n")).toHaveLength(1);
        }
        expect(presage("generate", "--help").stdout).toContain("--strategy LIST");
    });

    it("refuses a file that is not a GGUF model in one line with exit code 1", () => {
        const bad = join(work, "bad.gguf");
        writeFileSync(bad, "not a model at all");
        const r = presage("generate", "--model", bad, "--prompt", "x");
        expect(r.status).toBe(1);
        expect(r.stderr).toMatch(/not a GGUF file/);
        expect(r.stderr.trim().split("\n")).toHaveLength(1);
    });
});

describeWithStories("presage generate on stories260K", (modelPath) => {
    it("adds speculative stats with --strategy and, with --exact, keeps the greedy text token for token", () => {
        const plain = JSON.parse(presage("generate", "--model", modelPath, "--prompt", "Once upon a time", "--max-tokens", "64", "--exact", "--json").stdout);
        const r = presage("generate", "--model", modelPath, "--prompt", "Once upon a time", "--max-tokens", "64", "--strategy", "ngram,early-exit", "--exact", "--json");
        expect(r.status, r.stderr).toBe(0);
        const fast = JSON.parse(r.stdout);
        expect(fast.tokens).toEqual(plain.tokens);
        expect(fast.stats).toMatchObject({ estimate: true });
        for (const key of ["tokensPerSecond", "meanAcceptedLength", "acceptanceRate", "drafted", "accepted", "speedupEstimate", "bySource"]) expect(fast.stats).toHaveProperty(key);
        // The speedup is against the fastest plain decoding measured at load.
        expect(fast.stats.baselineTokensPerSecond).toBeGreaterThan(0);
        expect(fast.stats.speedupEstimate).toBeCloseTo(fast.stats.tokensPerSecond / fast.stats.baselineTokensPerSecond, 6);
    });

    it("refuses a draft with another vocabulary, saying why", () => {
        const synth = join(work, "other.gguf");
        execFileSync(process.execPath, ["bin/presage.js", "gguf", "synth", "--out", synth]);
        const r = presage("generate", "--model", modelPath, "--draft", synth, "--prompt", "x", "--strategy", "draft");
        expect(r.status).toBe(1);
        expect(r.stderr).toMatch(/vocabularies differ/);
    });
});
