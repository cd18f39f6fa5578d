import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { runBenchmarks } from "../bench/bench.ts";
import { toJson, writeBenchmarksMarkdown } from "../bench/report.ts";
import { allWorkloads } from "../bench/workloads/index.ts";
import { rpcWorkloads } from "../bench/workloads/rpc.ts";
import { packageRoot, presageCacheDir } from "../native-models/models-dir.ts";
import { backendOption, parseCommandArgs, printJson, UsageError, type Command } from "./command.ts";

const help = `presage bench — compare every strategy with plain decoding, interleaved, and write BENCHMARKS.md

Usage: presage bench [--quick] [--json FILE] [--workloads LIST] [--backend NAME] [--no-chat-path] [--no-write]

Options:
  --quick            fewer prompts and tokens, one round (under 10 minutes here)
  --json FILE        also write the results as JSON to FILE
  --workloads LIST   comma list of large, large-q4k, real-vocab, heavy, story,
                     grounded (default: all), and rpc, rpc-lan (only when named: the
                     1.5B twin split across two llama.cpp RPC workers in network namespaces,
                     rpc-lan with 1 ms per message each way; need root and npm run build:rpc)
  --backend NAME     auto (default), cpu, metal, cuda or vulkan: where the models load
  --no-chat-path     skip the streamed API and Race comparisons (on stories260K) after the workloads
  --no-write         do not touch BENCHMARKS.md
  --json             (without FILE, as the last option) print the JSON on stdout instead of the table

Runs one benchmark at a time: never alongside a build or tests, which disturb the timings.
`;

export const benchCommand: Command = {
    name: "bench",
    summary: "benchmark the strategies against plain decoding",
    help,
    async run(argv) {
        const command = `npm run bench${argv.length ? " -- " + argv.join(" ") : ""}`;
        // `--json FILE` writes a file; a bare `--json` prints JSON like the other commands.
        const jsonIndex = argv.indexOf("--json");
        let jsonFile: string | undefined;
        if (jsonIndex >= 0 && argv[jsonIndex + 1] != null && !argv[jsonIndex + 1]!.startsWith("--")) {
            jsonFile = argv[jsonIndex + 1];
            argv = [...argv.slice(0, jsonIndex), ...argv.slice(jsonIndex + 2)];
        }
        const { values } = parseCommandArgs(argv, { quick: { type: "boolean" }, workloads: { type: "string" }, backend: { type: "string" }, "no-chat-path": { type: "boolean" }, "no-write": { type: "boolean" } });
        const names = values.workloads?.split(",").map((s) => s.trim()) ?? allWorkloads.map((w) => w.name);
        const workloads = names.map((name) => {
            const w = [...allWorkloads, ...rpcWorkloads].find((x) => x.name === name);
            if (w == null) throw new UsageError(`unknown workload "${name}" (known: ${[...allWorkloads, ...rpcWorkloads].map((x) => x.name).join(", ")})`);
            return w;
        });
        const backend = backendOption(values.backend);
        const log = values.json ? (line: string) => process.stderr.write(line + "\n") : (line: string) => process.stdout.write(line + "\n");
        const report = await runBenchmarks({
            workloads,
            quick: values.quick ?? false,
            backend,
            chatPath: !values["no-chat-path"],
            cacheDir: presageCacheDir(),
            command,
            log
        });
        if (jsonFile != null) writeFileSync(jsonFile, JSON.stringify(toJson(report), null, 2) + "\n");
        if (!values["no-write"]) writeBenchmarksMarkdown(join(packageRoot, "BENCHMARKS.md"), report);
        if (values.json) printJson(toJson(report));
        return report.errors.length > 0 && report.workloads.length === 0 ? 1 : 0;
    }
};
