import { existsSync, readFileSync, writeFileSync } from "node:fs";
import type { BenchReport, WorkloadResult } from "./bench.ts";

const begin = "<!-- bench:begin (written by `npm run bench`; edit outside these markers) -->";
const end = "<!-- bench:end -->";

/** Targets of the engine and store issues, checked against the numbers so misses are stated, not hidden. */
export interface Target {
    workload: string;
    temperature?: number;
    strategy: string;
    min: number;
    label: string;
}

export const targets: Target[] = [
    { workload: "story", strategy: "ngram", min: 1.0, label: "story, ngram ≥ 1.0×" },
    { workload: "story", temperature: 0, strategy: "oracle", min: 2.5, label: "story, oracle (8 tokens) ≥ 2.5×" },
    { workload: "heavy", temperature: 0, strategy: "draft", min: 1.8, label: "heavy, draft ≥ 1.8× at temperature 0" },
    { workload: "heavy", temperature: 0.8, strategy: "draft", min: 1.4, label: "heavy, draft ≥ 1.4× at temperature 0.8" },
    { workload: "grounded", temperature: 0, strategy: "retrieval", min: 1.8, label: "grounded, retrieval ≥ 1.8× at temperature 0" }
];

/** The generated part of BENCHMARKS.md. */
export function renderMarkdown(report: BenchReport): string {
    const m = report.machine;
    const lines: string[] = [
        begin,
        "",
        `Command: \`${report.command}\`${report.quick ? " (quick)" : ""}  `,
        `Date: ${report.date}  `,
        `Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}, Node ${m.node}, node-llama-cpp ${m.nodeLlamaCpp}, backend ${m.backend}`,
        "",
        "Speedup = median over prompts and rounds of (plain time ÷ strategy time), each pair measured in the same round.",
        "`plain` is Presage's own loop with no guesses; `llamacompletion` is node-llama-cpp's `LlamaCompletion` on the same model",
        "(its speedup column shows how our plain loop compares with it). `identical` = every run gave the plain run's exact tokens.",
        ""
    ];
    for (const w of report.workloads) lines.push(...renderWorkload(w), "");
    lines.push("### Targets", "");
    for (const t of targets) {
        const rows = report.workloads.filter((w) => w.name === t.workload && (t.temperature == null || w.temperature === t.temperature));
        if (rows.length === 0) {
            lines.push(`- ${t.label}: not measured in this run`);
            continue;
        }
        for (const w of rows) {
            const s = w.strategies.find((x) => x.strategy === t.strategy);
            if (s == null) continue;
            const ok = s.speedup >= t.min;
            const okStrict = s.speedupVsLlamaCompletion >= t.min;
            lines.push(`- ${t.label} (t=${w.temperature}): ${s.speedup.toFixed(2)}× vs plain — ${ok ? "met" : "**missed**"}; ${s.speedupVsLlamaCompletion.toFixed(2)}× vs LlamaCompletion — ${okStrict ? "met" : "**missed**"}`);
        }
    }
    const slow = report.workloads.flatMap((w) => w.strategies.filter((s) => s.strategy !== "llamacompletion" && s.speedup < 0.97).map((s) => `${w.name} t=${w.temperature} ${s.strategy} ${s.speedup.toFixed(2)}×`));
    lines.push(`- no strategy below 0.97×: ${slow.length === 0 ? "met" : `**missed** (${slow.join("; ")})`}`);
    const notIdentical = report.workloads.flatMap((w) => w.strategies.filter((s) => s.identicalToPlain === false).map((s) => `${w.name} t=${w.temperature} ${s.strategy}`));
    lines.push(`- greedy and seeded output identical to plain: ${notIdentical.length === 0 ? "met (every run)" : `**missed** (${notIdentical.join("; ")})`}`);
    if (report.datastore != null) lines.push("", "### Datastore", "", "```json", JSON.stringify(report.datastore, null, 2), "```");
    for (const e of report.errors) lines.push("", `Workload \`${e.workload}\` did not run: ${e.error}`);
    lines.push("", end);
    return lines.join("\n");
}

function renderWorkload(w: WorkloadResult): string[] {
    return [
        `### ${w.name}, temperature ${w.temperature}`,
        "",
        `${w.description}; ${w.prompts} prompts, up to ${w.maxTokens} tokens.${w.notes.length ? " " + w.notes.join("; ") + "." : ""}`,
        "",
        "| strategy | speedup vs plain | vs LlamaCompletion | tokens/s | tokens/step | acceptance | identical |",
        "|---|---:|---:|---:|---:|---:|:---:|",
        ...w.strategies.map((s) =>
            `| ${s.strategy} | ${s.speedup.toFixed(2)}× | ${s.speedupVsLlamaCompletion.toFixed(2)}× | ${s.tokensPerSecond.toFixed(1)} | ${s.meanAcceptedLength.toFixed(2)} | ${(s.acceptanceRate * 100).toFixed(0)}% | ${s.identicalToPlain == null ? "–" : s.identicalToPlain ? "yes" : "**no**"} |`)
    ];
}

/** Replaces the generated part of BENCHMARKS.md, keeping what was written around it. */
export function writeBenchmarksMarkdown(path: string, report: BenchReport): void {
    const generated = renderMarkdown(report);
    const current = existsSync(path) ? readFileSync(path, "utf8") : "# Benchmarks\n\n## Engine\n\n";
    const a = current.indexOf(begin);
    const b = current.indexOf(end);
    const next = a >= 0 && b > a ? current.slice(0, a) + generated + current.slice(b + end.length) : current.trimEnd() + "\n\n" + generated + "\n";
    writeFileSync(path, next);
}

/** The JSON shape the issue asks for. */
export function toJson(report: BenchReport): object {
    return {
        command: report.command,
        date: report.date,
        machine: report.machine,
        quick: report.quick,
        workloads: report.workloads.map((w) => ({
            name: w.name,
            temperature: w.temperature,
            strategies: w.strategies.map((s) => ({
                strategy: s.strategy,
                speedup: s.speedup,
                speedupVsLlamaCompletion: s.speedupVsLlamaCompletion,
                tokensPerSecond: s.tokensPerSecond,
                meanAcceptedLength: s.meanAcceptedLength,
                acceptanceRate: s.acceptanceRate,
                identicalToPlain: s.identicalToPlain
            }))
        })),
        ...(report.datastore != null ? { datastore: report.datastore } : {}),
        errors: report.errors
    };
}
