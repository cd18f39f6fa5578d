import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { packageRoot } from "../native-models/models-dir.ts";
import { describeWithStories } from "../native-models/testing/stories.ts";
import { realVocabularyPath } from "../native-models/testing/real-vocabularies.ts";
import { writeGgufFile } from "../native-models/gguf/gguf-writer.ts";
import { kv } from "../native-models/gguf/gguf-metadata.ts";
import { readGgufFile } from "../native-models/gguf/gguf-reader.ts";
import { llama3StyleTemplate } from "../native-models/testing/chat-templates.ts";
import { parseCount } from "./gguf.ts";

const dir = mkdtempSync(join(tmpdir(), "presage-cli-gguf-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
    code: number | null;
    stdout: string;
    stderr: string;
}

function presage(...args: string[]): Promise<Run> {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [join(packageRoot, "bin", "presage.js"), ...args], { cwd: packageRoot });
        let stdout = "", stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code, stdout, stderr }));
    });
}

/** The failure contract: the exit code and exactly one line on stderr. */
function expectOneLineFailure(run: Run, code: number, pattern: RegExp) {
    expect(run.code, run.stderr).toBe(code);
    expect(run.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(run.stderr).toMatch(pattern);
}

describe("presage gguf", () => {
    it("prints help for every subcommand", async () => {
        const run = await presage("gguf", "synth", "--help");
        expect(run.code).toBe(0);
        for (const sub of ["synth --out FILE", "derive-draft --from FILE --layers N", "heavy-twin --from FILE --out FILE", "info FILE"]) expect(run.stdout).toContain(sub);
    });

    it("exits 2 with one line on bad arguments", async () => {
        const cases: [string[], RegExp][] = [
            [["gguf"], /missing subcommand/],
            [["gguf", "bake"], /unknown subcommand "bake"/],
            [["gguf", "synth"], /--out is required/],
            [["gguf", "synth", "--out", join(dir, "x.gguf"), "--dim", "63"], /dim \(63\) must be a multiple/],
            [["gguf", "synth", "--out", join(dir, "x.gguf"), "--layers", "two"], /--layers must be a whole number/],
            [["gguf", "synth", "--out", join(dir, "x.gguf"), "--colour", "red"], /Unknown option '--colour'/],
            [["gguf", "heavy-twin", "--from", "a", "--out", "b", "--params", "lots"], /--params must be a count/],
            [["gguf", "synth", "--out", join(dir, "x.gguf"), "--type", "q3_k"], /--type must be f32, f16, q8_0, q4_0, q4_k \(the types the writer can quantize to\), got "q3_k"/],
            [["gguf", "heavy-twin", "--from", "a", "--out", "b", "--type", "iq2_xs"], /--type must be f32, f16, q8_0, q4_0, q4_k .*got "iq2_xs"/],
            [["gguf", "info"], /missing the GGUF file/]
        ];
        // Started together: each run is mostly Node and tsx starting up.
        const runs = await Promise.all(cases.map(([args]) => presage(...args)));
        runs.forEach((run, i) => expectOneLineFailure(run, 2, cases[i]![1]));
        expect(existsSync(join(dir, "x.gguf"))).toBe(false);
    });

    it("exits 1 with one line naming a bad file", async () => {
        const notGguf = join(dir, "notes.gguf");
        writeFileSync(notGguf, "these are notes, not a model");
        expectOneLineFailure(await presage("gguf", "info", notGguf), 1, /notes\.gguf is not a GGUF file: it does not start with "GGUF"/);
        expectOneLineFailure(await presage("gguf", "derive-draft", "--from", join(dir, "none.gguf"), "--layers", "1", "--out", join(dir, "d.gguf")), 1, /none\.gguf does not exist/);
    });

    it("synthesizes a model (--json: one object), then describes and derives from it", async () => {
        const out = join(dir, "t.gguf");
        const synth = await presage("gguf", "synth", "--out", out, "--seed", "3", "--layers", "3", "--json");
        expect(synth.code, synth.stderr).toBe(0);
        expect(synth.stdout.trimEnd().split("\n")).toHaveLength(1);
        expect(JSON.parse(synth.stdout)).toMatchObject({ out, layers: 3, dim: 64, seed: 3, vocabularySize: 590 });

        const info = await presage("gguf", "info", out, "--json");
        expect(info.code, info.stderr).toBe(0);
        expect(JSON.parse(info.stdout)).toMatchObject({ architecture: "llama", layers: 3, embeddingLength: 64, vocabularySize: 590, tensorCount: 3 + 27, hasChatTemplate: true });
        const text = await presage("gguf", "info", out);
        expect(text.stdout).toMatch(/layers\s+3/);

        const draft = join(dir, "t-early.gguf");
        const derived = await presage("gguf", "derive-draft", "--from", out, "--layers", "1", "--out", draft, "--json");
        expect(derived.code, derived.stderr).toBe(0);
        expect(JSON.parse(derived.stdout)).toMatchObject({ out: draft, layers: 1, targetLayers: 3 });
        expectOneLineFailure(await presage("gguf", "derive-draft", "--from", out, "--layers", "3", "--out", draft), 2, /cannot keep 3 layers/);
    });

    it("synthesizes a model with a real vocabulary (qwen2), builds a Q4_0 heavy twin of it, and refuses a vocabulary file without tokens", async () => {
        const out = join(dir, "qwen2-synth.gguf");
        const synth = await presage("gguf", "synth", "--out", out, "--vocabulary-from", realVocabularyPath("qwen2"), "--type", "f16", "--json");
        expect(synth.code, synth.stderr).toBe(0);
        expect(JSON.parse(synth.stdout)).toMatchObject({ out, vocabularySize: 151936, type: "f16", vocabularyFrom: realVocabularyPath("qwen2") });

        const twin = join(dir, "qwen2-twin.gguf");
        const built = await presage("gguf", "heavy-twin", "--from", out, "--out", twin, "--params", "50M", "--type", "q4_0", "--json");
        expect(built.code, built.stderr).toBe(0);
        expect(JSON.parse(built.stdout)).toMatchObject({ out: twin, type: "q4_0" });
        const info = JSON.parse((await presage("gguf", "info", twin, "--json")).stdout);
        expect(info).toMatchObject({ vocabularySize: 151936, tokenizer: "gpt2", hasChatTemplate: true });
        expect(Object.keys(info.tensorTypes).sort()).toEqual(["F32", "Q4_0"]);

        const empty = join(dir, "no-tokens.gguf");
        await writeGgufFile(empty, { metadata: { "general.architecture": kv.string("llama") }, tensors: [] });
        expectOneLineFailure(await presage("gguf", "synth", "--out", join(dir, "z.gguf"), "--vocabulary-from", empty), 1, /no-tokens\.gguf has no tokenizer\.ggml\.tokens/);
    }, 60_000);

    it("writes a chat template from --chat-template FILE (a Llama 3 one onto llama-bpe, which has none), and refuses a file it cannot read or an empty one", async () => {
        const template = join(dir, "llama3.jinja");
        writeFileSync(template, llama3StyleTemplate);
        const out = join(dir, "llama-bpe-chat.gguf");
        const synth = await presage("gguf", "synth", "--out", out, "--vocabulary-from", realVocabularyPath("llama-bpe"), "--chat-template", template, "--layers", "1", "--type", "f16", "--json");
        expect(synth.code, synth.stderr).toBe(0);
        expect((await readGgufFile(out)).metadata["tokenizer.chat_template"]!.value).toBe(llama3StyleTemplate);
        expectOneLineFailure(await presage("gguf", "synth", "--out", join(dir, "y.gguf"), "--chat-template", join(dir, "missing.jinja")), 1, /--chat-template .*missing\.jinja cannot be read \(ENOENT\)/);
        const empty = join(dir, "empty.jinja");
        writeFileSync(empty, " \n");
        expectOneLineFailure(await presage("gguf", "synth", "--out", join(dir, "y.gguf"), "--chat-template", empty), 1, /--chat-template .*empty\.jinja is empty/);
    }, 60_000);

    it("parses parameter counts", () => {
        expect(parseCount("150M", "params")).toBe(150_000_000);
        expect(parseCount("1.5e8", "params")).toBe(150_000_000);
        expect(parseCount("2b", "params")).toBe(2_000_000_000);
        expect(parseCount("500k", "params")).toBe(500_000);
        expect(() => parseCount("-5M", "params")).toThrow(/--params must be a count/);
    });
});

describeWithStories("presage gguf heavy-twin", (storiesPath) => {
    it("builds a small twin and reports it as JSON", async () => {
        const out = join(dir, "twin.gguf");
        const run = await presage("gguf", "heavy-twin", "--from", storiesPath, "--out", out, "--params", "3M", "--perturb", "0.01", "--json");
        expect(run.code, run.stderr).toBe(0);
        const result = JSON.parse(run.stdout);
        expect(result).toMatchObject({ out, type: "f16", perturb: 0.01, targetParameterCount: 3_000_000 });
        expect(Math.abs(result.parameterCount / 3e6 - 1)).toBeLessThan(0.05);
    });
});
