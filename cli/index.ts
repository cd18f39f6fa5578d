import { existsSync, realpathSync, statSync } from "node:fs";
import { resolve } from "node:path";
import { pseudoFilesystemReason } from "../datastore/ingest/file-walker.ts";
import { Datastore } from "../datastore/datastore.ts";
import { DatastoreError } from "../datastore/datastore-error.ts";
import type { Ingestor, IngestProgress } from "../datastore/ingest/ingestor.ts";
import { openIngestor } from "../core/datastore-wiring.ts";
import { CliError, intOption, parseCommandArgs, printJson, requireOption, UsageError, type Command } from "./command.ts";

const help = `presage index — add files and folders to the personal retrieval store

Usage: presage index --db FILE --model FILE PATH... [options]

Reads text, Markdown, HTML, source code, JSON/CSV/YAML, PDF and DOCX files under each PATH,
tokenizes them with the model's vocabulary and updates the retrieval index the "retrieval"
drafter searches. Running it again reads only files that changed, drops files that are gone,
and resumes an interrupted run.

Options:
  --db FILE        the datastore (created if missing)
  --model FILE     GGUF model whose tokenizer to index with (only its vocabulary is loaded)
  --workers N      worker threads for reading and tokenizing (default: one per core, at most 4)
  --max-file-mb N  skip files larger than this (default: the store's setting, 20)
  --json           print one summary object on stdout:
                   {"files","indexed","skipped":[{"path","reason"}],"tokens","seconds",...}
  -h, --help       show this help

Progress goes to stderr. Exit codes: 0 done, 1 a file could not be used, 2 bad arguments.
`;

function formatProgress(p: IngestProgress): string {
    const mb = (n: number) => (n / 1e6).toFixed(1);
    const eta = p.etaSeconds == null ? "" : `, ${Math.ceil(p.etaSeconds)} s left`;
    switch (p.phase) {
        case "scanning":
            return "scanning…";
        case "reading":
            return `reading ${p.filesDone}/${p.filesTotal} files, ${mb(p.bytesDone)}/${mb(p.bytesTotal)} MB, ${p.tokens} tokens, ${mb(p.bytesPerSecond)} MB/s${eta}`;
        case "indexing":
            return `indexing ${p.tokens} new tokens…`;
        case "done":
            return "done";
    }
}

export const indexCommand: Command = {
    name: "index",
    summary: "add files and folders to the retrieval store",
    help,
    async run(argv) {
        const { values, positionals } = parseCommandArgs(
            argv,
            { db: { type: "string" }, model: { type: "string" }, workers: { type: "string" }, "max-file-mb": { type: "string" } },
            { positionals: true }
        );
        const dbPath = requireOption(values.db, "db");
        const modelPath = requireOption(values.model, "model");
        if (positionals.length === 0) throw new UsageError("give at least one file or folder to index");
        const workers = values.workers == null ? undefined : intOption(values.workers, "workers", 1, 1, 64);
        const maxFileMb = values["max-file-mb"] == null ? undefined : intOption(values["max-file-mb"], "max-file-mb", 20, 1, 1_000_000);

        if (!existsSync(modelPath) || !statSync(modelPath).isFile()) throw new CliError(`The model ${modelPath} does not exist; pass a GGUF file to --model.`);
        for (const p of positionals) if (!existsSync(p)) throw new CliError(`Cannot index ${p}: it does not exist.`);
        // Refused before any worker starts: /proc and the like are never documents.
        for (const p of positionals) {
            const pseudo = pseudoFilesystemReason(resolve(p)) ?? pseudoFilesystemReason(realpathSync(p));
            if (pseudo != null) throw new CliError(pseudo);
        }

        let datastore: Datastore;
        try {
            datastore = Datastore.open(dbPath);
        } catch (err) {
            if (err instanceof DatastoreError) throw new CliError(err.message);
            throw err;
        }
        const abort = new AbortController();
        const onSignal = () => abort.abort();
        process.once("SIGINT", onSignal);
        process.once("SIGTERM", onSignal);
        let ingestor: Ingestor | undefined;
        try {
            if (maxFileMb != null) datastore.settings.set("ingest.maxFileBytes", maxFileMb * 1024 * 1024);
            try {
                ingestor = await openIngestor({ datastore, modelPath, workers });
            } catch (err) {
                throw new CliError(`${(err as Error).message.split("\n")[0]} (is it a valid GGUF model?)`);
            }
            const tty = process.stderr.isTTY === true;
            let lastLine = 0;
            ingestor.on("progress", (p) => {
                const now = Date.now();
                // On a terminal, one line redrawn in place; in a log, a line a second.
                if (!tty && p.phase === "reading" && now - lastLine < 1000) return;
                lastLine = now;
                const line = formatProgress(p);
                process.stderr.write(tty ? `\r\x1b[K${line}` : `${line}\n`);
                if (tty && p.phase === "done") process.stderr.write("\n");
            });
            const sources = [];
            for (const p of positionals) sources.push(await ingestor.addSource(p));
            let report;
            try {
                report = await ingestor.scan({ sourceIds: sources.map((s) => s.id), signal: abort.signal });
            } catch (err) {
                if (abort.signal.aborted) {
                    process.stderr.write("\npresage index: interrupted; what was indexed is kept, run the same command again to resume\n");
                    return 130;
                }
                throw err;
            }
            if (values.json)
                printJson({
                    files: report.files,
                    indexed: report.indexed,
                    skipped: report.skipped,
                    tokens: report.tokens,
                    seconds: Math.round(report.seconds * 1000) / 1000,
                    added: report.added,
                    unchanged: report.unchanged,
                    removed: report.removed,
                    retokenized: report.retokenized,
                    tokensAdded: report.tokensAdded,
                    bytes: report.bytes,
                    stopped: report.stopped
                });
            else {
                process.stdout.write(
                    `${report.indexed} of ${report.files} files indexed (${report.added} new or changed, ${report.removed} removed), ${report.tokens} tokens, ${report.seconds.toFixed(1)} s\n`
                );
                for (const s of report.skipped) process.stdout.write(`  skipped ${s.path}: ${s.reason}\n`);
                // A source that reached its files or bytes limit: say so, with what to do.
                for (const s of report.stopped) process.stdout.write(`  ${sources.find((x) => x.id === s.sourceId)?.path ?? s.sourceId}: ${s.reason}\n`);
            }
            return 0;
        } finally {
            process.off("SIGINT", onSignal);
            process.off("SIGTERM", onSignal);
            await ingestor?.close();
            datastore.close();
        }
    }
};
