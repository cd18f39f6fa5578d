import { readFile } from "node:fs/promises";
import { describeGgufFile, type GgufModelSummary } from "../native-models/gguf/gguf-info.ts";
import { TransformOptionError } from "../native-models/gguf/gguf-error.ts";
import { deriveEarlyExitDraft } from "../native-models/gguf/derive-draft.ts";
import { buildHeavyTwin } from "../bench/twins/heavy-twin.ts";
import { synthesizeModel, synthOptionsProblem } from "../native-models/gguf/synth.ts";
import { isWeightTypeName, weightTypeNames, type WeightTypeName } from "../native-models/gguf/weight-type.ts";
import { CliError, intOption, numberOption, parseCommandArgs, printJson, requireOption, UsageError, type Command } from "./command.ts";

const help = `presage gguf — make and inspect GGUF model files

Usage:
  presage gguf synth --out FILE [--seed N] [--layers N] [--dim N] [--heads N] [--kv-heads N]
                     [--ff N] [--context N] [--vocabulary-from FILE] [--chat-template FILE]
                     [--type TYPE] [--json]
      Writes a tiny Llama model with random weights and its own SentencePiece-style vocabulary
      (byte fallback, ChatML chat template). Same options, byte-identical file.
      --vocabulary-from takes the whole tokenizer and chat template of another GGUF instead
      (e.g. llama.cpp's models/ggml-vocab-qwen2.gguf), sized to its vocabulary.
      --chat-template FILE writes that Jinja chat template in place of the vocabulary's (or where it
      has none, as llama.cpp's llama-bpe file).
      --type f32|f16|q8_0|q4_0|q4_k stores the weight matrices so (norms stay F32; Q4_K rows that
      are not a multiple of 256 become Q5_0, as in llama-quantize).
      Defaults: seed 0, 2 layers, dim 64, 4 heads, 2 KV heads, ff 2×dim, context 512, f32.

  presage gguf derive-draft --from FILE --layers N --out FILE [--json]
      Writes an early-exit draft: the first N blocks of FILE with its output head and vocabulary.
      N must be from 1 to the model's block count − 1.

  presage gguf heavy-twin --from FILE --out FILE [--params 150M] [--perturb X] [--seed N]
                          [--type f16|f32|q8_0|q4_0|q4_k] [--json]
      Writes a much larger Llama model (wider and deeper) that computes nearly the same function
      as FILE: its new capacity starts as an exact no-op, then --perturb (default 0) adds noise of
      that size relative to the original weights. --params takes 5M, 1.5e8, 1B...

  presage gguf info FILE [--json]
      Checks FILE and prints its architecture, layers, widths, vocabulary, tensors and parameters.

Every subcommand takes --json to print one JSON object on stdout instead of text.
Exit codes: 0 done, 1 the file is missing, unreadable or not a usable GGUF, 2 bad arguments.`;

/** `presage gguf`: synthesize, derive and inspect GGUF files. */
export const ggufCommand: Command = {
    name: "gguf",
    summary: "make and inspect GGUF files (synth, derive-draft, heavy-twin, info)",
    help,
    async run(argv) {
        const [sub, ...rest] = argv;
        try {
            switch (sub) {
                case "synth": return await synth(rest);
                case "derive-draft": return await deriveDraft(rest);
                case "heavy-twin": return await heavyTwin(rest);
                case "info": return await info(rest);
                case undefined: throw new UsageError("missing subcommand: synth, derive-draft, heavy-twin or info");
                default: throw new UsageError(`unknown subcommand "${sub}": use synth, derive-draft, heavy-twin or info`);
            }
        } catch (err) {
            // Options that do not fit the given file (e.g. more layers than it has) are usage errors.
            if (err instanceof TransformOptionError) throw new UsageError(err.message);
            throw err;
        }
    }
};

async function synth(argv: string[]): Promise<number> {
    const { values } = parseCommandArgs(argv, {
        out: { type: "string" },
        seed: { type: "string" },
        layers: { type: "string" },
        dim: { type: "string" },
        heads: { type: "string" },
        "kv-heads": { type: "string" },
        ff: { type: "string" },
        context: { type: "string" },
        "vocabulary-from": { type: "string" },
        "chat-template": { type: "string" },
        type: { type: "string" }
    });
    const out = requireOption(values.out, "out");
    const chatTemplate = values["chat-template"] == null ? undefined : await readChatTemplate(values["chat-template"]);
    const type = weightTypeOption(values.type, "f32");
    const options = {
        seed: intOption(values.seed, "seed", 0, 0, 0xffffffff),
        layers: intOption(values.layers, "layers", 2, 1, 256),
        dim: intOption(values.dim, "dim", 64, 2, 8192),
        heads: intOption(values.heads, "heads", 4, 1, 256),
        kvHeads: intOption(values["kv-heads"], "kv-heads", 2, 1, 256),
        feedForward: values.ff == null ? undefined : intOption(values.ff, "ff", 0, 1, 65536),
        contextLength: intOption(values.context, "context", 512, 16, 1 << 20)
    };
    const problem = synthOptionsProblem(options);
    if (problem != null) throw new UsageError(problem);
    const result = await synthesizeModel({ out, ...options, type, chatTemplate, ...(values["vocabulary-from"] != null ? { vocabularyFrom: values["vocabulary-from"] } : {}) });
    if (values.json) printJson(result);
    else
        process.stdout.write(
            `Wrote ${result.out}: llama, ${result.layers} layers, dim ${result.dim}, ${result.heads} heads (${result.kvHeads} KV), ` +
                `ff ${result.feedForward}, vocabulary ${result.vocabularySize}${result.vocabularyFrom != null ? ` (from ${result.vocabularyFrom})` : ""}, ` +
                `${formatCount(result.parameterCount)} parameters (${result.type}), ${formatBytes(result.bytes)}\n`
        );
    return 0;
}

async function deriveDraft(argv: string[]): Promise<number> {
    const { values } = parseCommandArgs(argv, { from: { type: "string" }, layers: { type: "string" }, out: { type: "string" } });
    const from = requireOption(values.from, "from");
    const out = requireOption(values.out, "out");
    const layers = intOption(requireOption(values.layers, "layers"), "layers", 0, 1, 100_000);
    const result = await deriveEarlyExitDraft({ from, layers, out });
    if (values.json) printJson(result);
    else
        process.stdout.write(
            `Wrote ${result.out}: the first ${result.layers} of ${result.targetLayers} blocks, ${formatCount(result.parameterCount)} parameters, ${formatBytes(result.bytes)}\n`
        );
    return 0;
}

async function heavyTwin(argv: string[]): Promise<number> {
    const { values } = parseCommandArgs(argv, {
        from: { type: "string" },
        out: { type: "string" },
        params: { type: "string" },
        perturb: { type: "string" },
        seed: { type: "string" },
        type: { type: "string" }
    });
    const from = requireOption(values.from, "from");
    const out = requireOption(values.out, "out");
    const params = values.params == null ? 150e6 : parseCount(values.params, "params");
    const perturb = numberOption(values.perturb, "perturb", 0, 0, 100);
    const seed = intOption(values.seed, "seed", 0, 0, 0xffffffff);
    const type = weightTypeOption(values.type, "f16");
    const started = performance.now();
    const result = await buildHeavyTwin({ from, out, params, perturb, seed, type });
    const seconds = (performance.now() - started) / 1000;
    if (values.json) printJson({ ...result, seconds: Number(seconds.toFixed(2)) });
    else
        process.stdout.write(
            `Wrote ${result.out}: ${formatCount(result.parameterCount)} parameters (${result.type}), ${result.blockCount} blocks, dim ${result.embeddingLength}, ` +
                `ff ${result.feedForwardLength}, ${result.headCount} heads, perturb ${result.perturb}, ${formatBytes(result.bytes)} in ${seconds.toFixed(1)} s\n`
        );
    return 0;
}

async function info(argv: string[]): Promise<number> {
    const { values, positionals } = parseCommandArgs(argv, {}, { positionals: true });
    if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? "missing the GGUF file to describe" : "give exactly one file");
    const summary = await describeGgufFile(positionals[0]!);
    if (values.json) printJson(summary);
    else process.stdout.write(formatSummary(summary));
    return 0;
}

function formatSummary(s: GgufModelSummary): string {
    const rows: [string, string | number | undefined][] = [
        ["architecture", s.architecture],
        ["name", s.name],
        ["layers", s.layers],
        ["embedding", s.embeddingLength],
        ["feed-forward", s.feedForwardLength],
        ["heads", s.headCount == null ? undefined : `${s.headCount} (${s.headCountKv ?? s.headCount} KV)`],
        ["context", s.contextLength],
        ["vocabulary", s.vocabularySize == null ? undefined : `${s.vocabularySize} (${s.tokenizer ?? "?"} tokenizer${s.hasChatTemplate ? ", chat template" : ""})`],
        ["tensors", `${s.tensorCount} (${Object.entries(s.tensorTypes).map(([t, n]) => `${n} ${t}`).join(", ")})`],
        ["parameters", `${formatCount(s.parameterCount)} (${s.parameterCount})`],
        ["file", `${formatBytes(s.fileSize)}, GGUF v${s.ggufVersion}`]
    ];
    return `${s.path}\n${rows.filter(([, v]) => v != null).map(([k, v]) => `  ${k.padEnd(13)} ${v}`).join("\n")}\n`;
}

/** `--chat-template FILE`: its text, or a one-line error (exit 1) for a file that cannot be read or is empty. */
async function readChatTemplate(path: string): Promise<string> {
    const text = await readFile(path, "utf8").catch((err: NodeJS.ErrnoException) => {
        throw new CliError(`--chat-template ${path} cannot be read (${err.code ?? err.message})`);
    });
    if (text.trim() === "") throw new CliError(`--chat-template ${path} is empty: a chat template is Jinja text`);
    return text;
}

/** `--type`: a weight type the writer supports, or a one-line usage error listing them. */
function weightTypeOption(text: string | undefined, fallback: WeightTypeName): WeightTypeName {
    if (text == null) return fallback;
    if (!isWeightTypeName(text)) throw new UsageError(`--type must be ${weightTypeNames.join(", ")} (the types the writer can quantize to), got "${text}"`);
    return text;
}

/** "150M", "1.5e8", "2B", "500k" → a count; anything else is a usage error. */
export function parseCount(text: string, name: string): number {
    const match = /^\s*(\d+(?:\.\d+)?(?:e\d+)?)\s*([kmbg]?)\s*$/i.exec(text);
    const unit = { "": 1, k: 1e3, m: 1e6, b: 1e9, g: 1e9 }[match?.[2]?.toLowerCase() ?? ""] ?? 1;
    const value = match == null ? NaN : Number(match[1]) * unit;
    if (!Number.isFinite(value) || value < 1 || value > 1e12) throw new UsageError(`--${name} must be a count like 5M, 150M or 1.5e8, got "${text}"`);
    return Math.round(value);
}

function formatCount(n: number): string {
    return n >= 1e9 ? `${(n / 1e9).toFixed(2)}B` : n >= 1e6 ? `${(n / 1e6).toFixed(1)}M` : n >= 1e3 ? `${(n / 1e3).toFixed(1)}K` : String(n);
}

function formatBytes(n: number): string {
    return n >= 1 << 30 ? `${(n / 2 ** 30).toFixed(2)} GiB` : n >= 1 << 20 ? `${(n / 2 ** 20).toFixed(1)} MiB` : `${(n / 1024).toFixed(1)} KiB`;
}
