import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { synthesizeModel } from "../gguf/synth.ts";
import { packageRoot } from "../models-dir.ts";
import { realVocabularyPath, type RealVocabularyName } from "../testing/real-vocabularies.ts";

const dir = mkdtempSync(join(tmpdir(), "presage-vocab-pairs-"));
const models: Record<string, string> = {};

interface Run {
    code: number | null;
    stdout: string;
    stderr: string;
}

function presage(...args: string[]): Promise<Run> {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [join(packageRoot, "bin", "presage.js"), ...args], {
            cwd: packageRoot,
            env: { ...process.env, UV_THREADPOOL_SIZE: "1" }
        });
        let stdout = "", stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code, stdout, stderr }));
    });
}

const generate = (target: string, draft: string) =>
    presage("generate", "--model", models[target]!, "--draft", models[draft]!, "--strategy", "draft", "--prompt", "Hello, world", "--max-tokens", "4", "--threads", "1", "--json");

beforeAll(async () => {
    // Tiny models (1 block, F16) whose vocabulary is real: the vocabulary check reads all of it.
    const make = async (name: string, vocabulary: RealVocabularyName, options: { seed: number; dim?: number; heads?: number; kvHeads?: number }) => {
        models[name] = join(dir, `${name}.gguf`);
        await synthesizeModel({ out: models[name], vocabularyFrom: realVocabularyPath(vocabulary), type: "f16", layers: 1, ...options });
    };
    await make("qwen2", "qwen2", { seed: 1 });
    await make("qwen2-small", "qwen2", { seed: 2, dim: 32, heads: 2, kvHeads: 1 });
    await make("llama-bpe", "llama-bpe", { seed: 1 });
    await make("gemma-4", "gemma-4", { seed: 1 });
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("draft compatibility on real vocabularies (presage generate --draft)", () => {
    it.each([
        ["qwen2", "llama-bpe", /the target has 151936 tokens and the draft 128256/],
        ["llama-bpe", "gemma-4", /the target has 128256 tokens and the draft 262144/],
        ["gemma-4", "qwen2", /the target has 262144 tokens and the draft 151936/]
    ])("refuses a %s target with a %s draft, saying why in one line", async (target, draft, reason) => {
        const run = await generate(target, draft);
        expect(run.code, run.stderr).toBe(1);
        const lines = run.stderr.trimEnd().split("\n").filter((line) => !line.startsWith("[node-llama-cpp]"));
        expect(lines).toHaveLength(1);
        expect(lines[0]).toMatch(/vocabularies differ/);
        expect(lines[0]).toMatch(reason);
    }, 30_000);

    it("accepts two models synthesized from the same vocabulary file with other seeds and sizes, and answers as plain decoding does", async () => {
        const run = await generate("qwen2", "qwen2-small");
        expect(run.code, run.stderr).toBe(0);
        const result = JSON.parse(run.stdout);
        expect(result.tokens).toHaveLength(4);
        // A random-weight draft is unsure of everything over 151,936 tokens, so it may draft nothing;
        // what matters here is that it was loaded beside the target and the answer is the target's own.
        const plain = await presage("generate", "--model", models.qwen2!, "--prompt", "Hello, world", "--max-tokens", "4", "--threads", "1", "--json");
        expect(plain.code, plain.stderr).toBe(0);
        expect(result.tokens).toEqual(JSON.parse(plain.stdout).tokens);
    }, 45_000);
});
