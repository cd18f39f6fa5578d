import { EventEmitter } from "node:events";
import { realpath, stat } from "node:fs/promises";
import { resolve } from "node:path";
import type { Datastore } from "../datastore.ts";
import type { DocumentRecord } from "../documents.ts";
import { IndexBuilder } from "../index/index-builder.ts";
import type { Source } from "../sources.ts";
import type { TokenizerRecord } from "../tokenizers.ts";
import { isFoundFile, pseudoFilesystemReason, walkFiles, type FoundFile } from "./file-walker.ts";
import { IngestWorkerPool } from "./worker-pool.ts";

/** Where an ingestion run is, for progress bars. */
export interface IngestProgress {
    phase: "scanning" | "reading" | "indexing" | "done";
    filesDone: number;
    filesTotal: number;
    /** Bytes of files (or stored text) processed so far / to process in this run. */
    bytesDone: number;
    bytesTotal: number;
    /** Tokens produced so far in this run. */
    tokens: number;
    /** Bytes per second so far in the reading phase. */
    bytesPerSecond: number;
    /** Seconds left in the reading phase at the current rate; null until there is a rate. */
    etaSeconds: number | null;
    /** The file being handled, when there is one. */
    path?: string;
}

/** What a run did. */
export interface IngestReport {
    /** Files found under the scanned sources (indexable or not). */
    files: number;
    /** Of those, how many are in the index now. */
    indexed: number;
    /** Read and tokenized in this run (new or changed files). */
    added: number;
    /** Unchanged since the last run (not read again). */
    unchanged: number;
    /** Documents dropped because their files disappeared. */
    removed: number;
    /** Ready documents tokenized again from their stored text (a new tokenizer, an interrupted run). */
    retokenized: number;
    /** Every file of the scanned sources that is not indexed, and why. */
    skipped: { path: string; reason: string }[];
    /** Tokens of the scanned sources in the index (this tokenizer). */
    tokens: number;
    /** Tokens produced in this run. */
    tokensAdded: number;
    /** Bytes read or tokenized in this run. */
    bytes: number;
    seconds: number;
    /** Sources whose walk stopped at a limit, with the one-line reason; what was found before it is indexed. */
    stopped: { sourceId: number; reason: string }[];
}

export interface IngestorOptions {
    datastore: Datastore;
    /** The target model: documents are tokenized with its vocabulary. */
    modelPath: string;
    /**
     * URL of the module that tokenizes in the worker threads (a `TokenizerModule`, see
     * worker-protocol.ts): the app supplies it, so the store needs no model runtime of its own.
     */
    tokenizerModule: string;
    /** Worker threads (default: one per core, at most 4). */
    workers?: number;
}

export interface ScanOptions {
    /** Sources to re-scan (default: all). */
    sourceIds?: readonly number[];
    signal?: AbortSignal;
}

type Job =
    | { kind: "file"; sourceId: number; file: FoundFile; knownHash?: string; existing?: DocumentRecord }
    | { kind: "text"; documentId: number; size: number };

const progressIntervalMs = 200;

/** The skip reason of a file the user took out of the index: scans leave it out until its source goes. */
export const removedByUserReason = "removed from the index by you";

/**
 * Turns sources (folders, files) into indexed documents: walks them, has worker threads read,
 * extract and tokenize what changed, stores text and tokens, and keeps the retrieval index's
 * shards up to date. Re-scans read only files whose size or mtime changed (and then only store
 * them if their hash changed), drop documents whose files are gone, and tokenize stored text for
 * a new tokenizer without touching the files.
 *
 * Runs are serialized: a scan started while another runs waits for it.
 */
export class Ingestor extends EventEmitter<{ progress: [IngestProgress] }> {
    private running: Promise<unknown> = Promise.resolve();

    private constructor(
        readonly datastore: Datastore,
        private readonly pool: IngestWorkerPool,
        /** The tokenizer documents are indexed with. */
        readonly tokenizer: TokenizerRecord
    ) {
        super();
    }

    /**
     * Starts the workers (each loads the model's vocabulary) and registers the tokenizer.
     * @throws Error with one line when the model cannot be loaded.
     */
    static async create(options: IngestorOptions): Promise<Ingestor> {
        const pool = await IngestWorkerPool.start({ modelPath: options.modelPath, tokenizerModule: options.tokenizerModule, workers: options.workers });
        const tokenizer = options.datastore.tokenizers.ensure(pool.tokenizer);
        return new Ingestor(options.datastore, pool, tokenizer);
    }

    /**
     * Adds a folder or file to index (or returns it if already there). Does not scan it.
     * @throws Error when the path does not exist.
     */
    async addSource(path: string, options: { watch?: boolean } = {}): Promise<Source> {
        const absolute = resolve(path);
        let kind: "folder" | "file";
        try {
            kind = (await stat(absolute)).isDirectory() ? "folder" : "file";
        } catch (err) {
            throw new Error(`Cannot index ${absolute}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "it does not exist" : (err as Error).message}.`);
        }
        const pseudo = pseudoFilesystemReason(await realpath(absolute).catch(() => absolute)) ?? pseudoFilesystemReason(absolute);
        if (pseudo != null) throw new Error(pseudo);
        return this.datastore.sources.add(absolute, kind, options);
    }

    /** Removes a source with all its documents, then re-shards the documents that shared shards with them. */
    removeSource(id: number): Promise<boolean> {
        return this.exclusive(async () => {
            const removed = this.datastore.sources.remove(id);
            if (removed) {
                this.datastore.events.emit("index-changed", this.tokenizer.id);
                await this.buildIndex();
            }
            return removed;
        });
    }

    /**
     * Takes one file of a source out of the index and keeps it out of later scans (it is listed as
     * skipped with `removedByUserReason`) until the source itself is removed. False when the source
     * has no such document.
     */
    excludeDocument(sourceId: number, documentId: number): Promise<boolean> {
        return this.exclusive(async () => {
            const doc = this.datastore.documents.get(documentId);
            if (doc == null || doc.sourceId !== sourceId) return false;
            this.datastore.documents.saveSkipped({ sourceId, path: doc.path, size: doc.size, mtimeMs: doc.mtimeMs, reason: removedByUserReason });
            if (doc.status === "ready") {
                this.datastore.events.emit("index-changed", this.tokenizer.id);
                await this.buildIndex();
            }
            return true;
        });
    }

    /** Re-scans sources (default all), tokenizes whatever lacks tokens, and updates the index. */
    scan(options: ScanOptions = {}): Promise<IngestReport> {
        return this.exclusive(() => this.run(options, true));
    }

    /**
     * Brings the index up to date for this tokenizer from stored text only, without reading files:
     * what switching to a model with another vocabulary needs.
     */
    retokenize(options: { signal?: AbortSignal } = {}): Promise<IngestReport> {
        return this.exclusive(() => this.run({ sourceIds: [], signal: options.signal }, false));
    }

    /** Stops the workers. The datastore stays open (it belongs to the caller). */
    async close(): Promise<void> {
        await this.running.catch(() => {});
        await this.pool.close();
    }

    private exclusive<T>(task: () => Promise<T>): Promise<T> {
        const next = this.running.catch(() => {}).then(task);
        this.running = next;
        return next;
    }

    private async run(options: ScanOptions, walk: boolean): Promise<IngestReport> {
        const started = performance.now();
        const { datastore, tokenizer } = this;
        const { documents, sources } = datastore;
        const signal = options.signal;
        const report: IngestReport = { files: 0, indexed: 0, added: 0, unchanged: 0, removed: 0, retokenized: 0, skipped: [], tokens: 0, tokensAdded: 0, bytes: 0, seconds: 0, stopped: [] };
        const progress: IngestProgress = { phase: "scanning", filesDone: 0, filesTotal: 0, bytesDone: 0, bytesTotal: 0, tokens: 0, bytesPerSecond: 0, etaSeconds: null };
        this.emit("progress", { ...progress });

        const scanned = walk ? (options.sourceIds ?? sources.list().map((s) => s.id)).map((id) => sources.get(id)).filter((s): s is Source => s != null) : [];
        const maxBytes = datastore.settings.get("ingest.maxFileBytes");
        const maxSourceFiles = datastore.settings.get("ingest.maxSourceFiles");
        const maxSourceBytes = datastore.settings.get("ingest.maxSourceBytes");
        const jobs: Job[] = [];
        let changedIndex = false;

        for (const source of scanned) {
            const known = new Map(documents.list(source.id).map((d) => [d.path, d]));
            const seen = new Set<string>();
            let sourceBytes = 0;
            let stopped: string | null = null;
            for await (const entry of walkFiles(source.path)) {
                signal?.throwIfAborted();
                if (seen.has(entry.path)) continue;
                // The limits bound what one source may cost (a folder chosen too wide must not fill
                // the disk): the walk stops there, and what was found before is indexed.
                if (seen.size >= maxSourceFiles) {
                    stopped = `Stopped at ${maxSourceFiles} files, the limit for one source: add a smaller folder, or raise the limit in Settings.`;
                    break;
                }
                if (isFoundFile(entry) && entry.size <= maxBytes && sourceBytes + entry.size > maxSourceBytes) {
                    stopped = `Stopped at ${formatBytes(maxSourceBytes)} of files, the limit for one source: add a smaller folder, or raise the limit in Settings.`;
                    break;
                }
                if (isFoundFile(entry) && entry.size <= maxBytes) sourceBytes += entry.size;
                seen.add(entry.path);
                report.files++;
                const existing = known.get(entry.path);
                if (existing?.skipReason === removedByUserReason) {
                    report.unchanged++;
                    continue;
                }
                if (!isFoundFile(entry)) {
                    if (existing?.status !== "skipped" || existing.skipReason !== entry.problem || existing.mtimeMs !== (entry.mtimeMs ?? 0)) {
                        documents.saveSkipped({ sourceId: source.id, path: entry.path, size: entry.size ?? 0, mtimeMs: entry.mtimeMs ?? 0, reason: entry.problem });
                        changedIndex ||= existing?.status === "ready";
                    }
                    continue;
                }
                const facts = { sourceId: source.id, path: entry.path, size: entry.size, mtimeMs: entry.mtimeMs };
                if (entry.size > maxBytes) {
                    // Decided from the size alone: the file is never opened.
                    const reason = `too large (${entry.size} bytes, limit ${maxBytes})`;
                    if (existing?.skipReason !== reason || existing.mtimeMs !== entry.mtimeMs) {
                        documents.saveSkipped({ ...facts, reason });
                        changedIndex ||= existing?.status === "ready";
                    }
                    continue;
                }
                const same = existing != null && existing.size === entry.size && existing.mtimeMs === entry.mtimeMs;
                if (same && existing.status === "skipped" && !existing.skipReason?.startsWith("too large")) {
                    report.unchanged++;
                    continue;
                }
                if (same && existing.status === "ready") {
                    if (documents.hasTokens(existing.id, tokenizer.id)) report.unchanged++;
                    else jobs.push({ kind: "text", documentId: existing.id, size: entry.size });
                    continue;
                }
                const knownHash = existing?.status === "ready" && documents.hasTokens(existing.id, tokenizer.id) ? existing.contentHash ?? undefined : undefined;
                jobs.push({ kind: "file", sourceId: source.id, file: entry, knownHash, existing });
            }
            if (stopped != null) report.stopped.push({ sourceId: source.id, reason: stopped });
            // A stopped walk did not see everything: what it did not reach is not gone.
            if (stopped == null) for (const [path, doc] of known)
                if (!seen.has(path)) {
                    documents.remove(doc.id);
                    report.removed++;
                    changedIndex ||= doc.status === "ready";
                }
            sources.markScanned(source.id);
        }

        // Ready documents anywhere in the store that lack tokens for this tokenizer.
        const queued = new Set(jobs.filter((j) => j.kind === "text").map((j) => (j as { documentId: number }).documentId));
        for (const m of documents.missingTokens(tokenizer.id)) if (!queued.has(m.id)) jobs.push({ kind: "text", documentId: m.id, size: m.size });

        progress.phase = "reading";
        progress.filesTotal = jobs.length;
        progress.bytesTotal = jobs.reduce((n, j) => n + (j.kind === "file" ? j.file.size : j.size), 0);
        const readingStarted = performance.now();
        let lastEmit = 0;
        const tick = (path: string | undefined, force = false) => {
            const now = performance.now();
            const elapsed = (now - readingStarted) / 1000;
            progress.bytesPerSecond = elapsed > 0 ? progress.bytesDone / elapsed : 0;
            progress.etaSeconds = progress.bytesPerSecond > 0 ? (progress.bytesTotal - progress.bytesDone) / progress.bytesPerSecond : null;
            progress.path = path;
            if (force || now - lastEmit >= progressIntervalMs) {
                lastEmit = now;
                this.emit("progress", { ...progress });
            }
        };
        tick(undefined, true);

        // Once a shard's worth of new tokens is stored, its suffix array is sorted while reading goes
        // on (one build at a time; the final build below picks up the rest).
        const shardTokens = datastore.settings.get("index.shardTokens");
        let sinceBuild = 0;
        let background: Promise<void> = Promise.resolve();
        let building = false;
        const maybeBuild = (added: number) => {
            sinceBuild += added;
            if (building || sinceBuild < shardTokens) return;
            building = true;
            sinceBuild = 0;
            background = this.buildIndex(signal, true).finally(() => {
                building = false;
            });
        };

        let next = 0;
        const handle = async (job: Job) => {
            if (job.kind === "text") {
                const text = documents.text(job.documentId);
                if (text == null) return;
                const tokens = await this.pool.tokenize(text);
                if (!datastore.isOpen || documents.get(job.documentId) == null) return; // removed meanwhile
                documents.saveTokens(job.documentId, { tokenizerId: tokenizer.id, tokens });
                report.retokenized++;
                report.tokensAdded += tokens.length;
                progress.tokens += tokens.length;
                changedIndex = true;
                maybeBuild(tokens.length);
                return;
            }
            const { file, sourceId, existing } = job;
            const outcome = await this.pool.file({ path: file.path, format: file.format, maxBytes, knownHash: job.knownHash });
            if (!datastore.isOpen || sources.get(sourceId) == null) return; // its source was removed meanwhile
            const facts = { sourceId, path: file.path, size: file.size, mtimeMs: file.mtimeMs };
            switch (outcome.status) {
                case "unchanged":
                    documents.touch(existing!.id, file.size, file.mtimeMs);
                    report.unchanged++;
                    break;
                case "skipped":
                    documents.saveSkipped({ ...facts, reason: outcome.reason, contentHash: outcome.hash });
                    changedIndex ||= existing?.status === "ready";
                    break;
                case "ready":
                    documents.saveReady({ ...facts, contentHash: outcome.hash, text: outcome.text }, { tokenizerId: tokenizer.id, tokens: outcome.tokens });
                    report.added++;
                    report.tokensAdded += outcome.tokens.length;
                    progress.tokens += outcome.tokens.length;
                    changedIndex = true;
                    maybeBuild(outcome.tokens.length);
                    break;
            }
        };
        // Twice as many jobs in flight as workers, so a worker never waits for the main thread.
        const lanes = Array.from({ length: Math.max(1, this.pool.size * 2) }, async () => {
            while (next < jobs.length) {
                signal?.throwIfAborted();
                const job = jobs[next++];
                await handle(job);
                progress.filesDone++;
                progress.bytesDone += job.kind === "file" ? job.file.size : job.size;
                report.bytes += job.kind === "file" ? job.file.size : job.size;
                tick(job.kind === "file" ? job.file.path : undefined);
            }
        });
        try {
            await Promise.all(lanes);
        } finally {
            await background.catch(() => {});
        }

        progress.phase = "indexing";
        tick(undefined, true);
        if (changedIndex) datastore.events.emit("index-changed", tokenizer.id);
        await this.buildIndex(signal);

        for (const source of scanned) {
            for (const d of documents.list(source.id)) {
                if (d.status === "skipped") report.skipped.push({ path: d.path, reason: d.skipReason ?? "skipped" });
                else report.indexed++;
            }
        }
        report.tokens = documents.tokenCount(tokenizer.id, scanned.map((s) => s.id));
        report.seconds = (performance.now() - started) / 1000;
        progress.phase = "done";
        tick(undefined, true);
        return report;
    }

    /** Rebuilds the index after documents went away outside a run (a source removed while it was scanned). */
    rebuild(): Promise<void> {
        return this.exclusive(async () => {
            this.datastore.events.emit("index-changed", this.tokenizer.id);
            await this.buildIndex();
        });
    }

    private async buildIndex(signal?: AbortSignal, fullShardsOnly = false): Promise<void> {
        await new IndexBuilder(this.datastore, this.tokenizer).build({
            signal,
            fullShardsOnly,
            concurrency: this.pool.size,
            sorter: (tokens, depth) => this.pool.sortSuffixes(tokens, depth)
        });
    }
}

/** "2 GB", "512 MB": limits as a person reads them. */
export function formatBytes(n: number): string {
    const units = ["bytes", "KB", "MB", "GB", "TB"];
    let i = 0;
    let v = n;
    while (v >= 1024 && i < units.length - 1) {
        v /= 1024;
        i++;
    }
    return `${Number.isInteger(v) ? v : v.toFixed(1)} ${units[i]}`;
}
