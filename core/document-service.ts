import { statSync } from "node:fs";
import { realpath, stat } from "node:fs/promises";
import { resolve } from "node:path";
import type { Datastore } from "../datastore/datastore.ts";
import { removedByUserReason, type Ingestor, type IngestProgress } from "../datastore/ingest/ingestor.ts";
import { openIngestor } from "./datastore-wiring.ts";
import type { Source } from "../datastore/sources.ts";
import type { DocumentSource, DocumentsResponse, IndexProgress } from "./app-api.ts";
import type { EventBus } from "./event-bus.ts";
import { pseudoFilesystemReason } from "../datastore/ingest/file-walker.ts";
import { addDocumentsSchema, idSchema, pageLimitSchema, pageOffsetSchema, pausedSchema } from "./schemas.ts";
import { firstLine, ServiceError } from "./service-error.ts";
import { SourceWatcher } from "./source-watcher.ts";
import { validate } from "./validation.ts";

export interface DocumentServiceOptions {
    datastore: Datastore;
    events: EventBus;
    /** Ingestion worker threads (default: the datastore's choice). */
    workers?: number;
}

/**
 * The user's document sources: adding, removing, re-scanning and watching them, and indexing them
 * in the background with the loaded model's tokenizer (documents are indexed per vocabulary, so
 * indexing waits for a model and catches up whenever the model changes).
 */
export class DocumentService {
    private ingestor: Ingestor | null = null;
    private modelPath: string | null = null;
    /** Scans run one after another, so progress can be attributed to one source. */
    private chain: Promise<unknown> = Promise.resolve();
    private readonly progress = new Map<string, IndexProgress>();
    private readonly errors = new Map<string, string>();
    /** Why a source's last scan stopped at a limit. */
    private readonly stops = new Map<string, string>();
    /** The running scan of each source, so removing it cancels the work at once. */
    private readonly scanning = new Map<string, AbortController>();
    private readonly watcher: SourceWatcher;
    private closed = false;

    constructor(private readonly options: DocumentServiceOptions) {
        this.watcher = new SourceWatcher({ onChange: (id) => void this.scan(id) });
        for (const s of options.datastore.sources.list()) if (s.watch && !s.paused) this.watcher.set(String(s.id), s.path, true);
    }

    /**
     * Follows the engine: indexes with the new model's tokenizer (what is already stored is only
     * re-tokenized). Queued with the scans, so a scan asked for meanwhile waits for the new tokenizer.
     */
    attach(engine: { readonly info: { readonly modelPath: string } } | null): Promise<void> {
        const modelPath = engine?.info.modelPath ?? null;
        const run = this.chain.catch(() => undefined).then(async () => {
            if (modelPath === this.modelPath && (modelPath == null) === (this.ingestor == null)) return;
            await this.ingestor?.close();
            this.ingestor = null;
            this.modelPath = modelPath;
            if (modelPath == null || this.closed) return;
            this.ingestor = await openIngestor({ datastore: this.options.datastore, modelPath, workers: this.options.workers });
            this.ingestor.on("progress", (p) => this.onProgress(p));
        });
        this.chain = run;
        // Everything is scanned again for the new tokenizer (unchanged files are not read again).
        if (modelPath != null) for (const s of this.options.datastore.sources.list()) void this.scan(String(s.id));
        return run;
    }

    /** Every source with its counts and one page (default the first 100) of each one's file lists. */
    list(limit?: unknown, offset?: unknown): DocumentsResponse {
        const page = { limit: validate(pageLimitSchema, limit, "page size") ?? 100, offset: validate(pageOffsetSchema, offset, "page offset") ?? 0 };
        const sources = this.options.datastore.sources.list().map((s) => this.describe(s, page));
        const tokenizer = this.ingestor?.tokenizer.id;
        return {
            sources,
            page,
            storeBytes: this.storeBytes(),
            tokens: tokenizer == null ? 0 : this.options.datastore.documents.tokenCount(tokenizer),
            historyAnswers: this.options.datastore.conversations.historyAnswerCount()
        };
    }

    /** Adds a folder or file and starts indexing it in the background (once a model is loaded). */
    async add(request: unknown): Promise<DocumentSource> {
        const req = validate(addDocumentsSchema, request, "documents request");
        const path = resolve(req.path);
        const info = await stat(path).catch(() => null);
        if (info == null) throw new ServiceError("not-found", `There is nothing at ${path}: check the path.`);
        if (!info.isDirectory() && !info.isFile()) throw new ServiceError("invalid-request", `${path} is neither a folder nor a file: add a folder or a document.`);
        const pseudo = pseudoFilesystemReason(path) ?? pseudoFilesystemReason(await realpath(path).catch(() => path));
        if (pseudo != null) throw new ServiceError("invalid-request", pseudo);
        const source = this.options.datastore.sources.add(path, info.isDirectory() ? "folder" : "file", { watch: req.watch });
        const id = String(source.id);
        this.watcher.set(id, source.path, source.watch);
        void this.scan(id);
        return this.describe(this.options.datastore.sources.get(source.id)!, { limit: 100, offset: 0 });
    }

    /**
     * Removes a source, or one file of it (`sourceId:documentId`, as `indexedFiles` names it).
     * A source goes at once whatever is indexing: its running scan is cancelled, its rows deleted,
     * and the index is rebuilt in the background, queued with the other sources' scans.
     */
    async remove(id: string): Promise<void> {
        const file = /^(\d{1,15}):(\d{1,15})$/.exec(id);
        if (file != null) return this.removeFile(this.require(file[1]!), Number(file[2]));
        const source = this.require(id);
        this.watcher.set(id, source.path, false);
        this.scanning.get(id)?.abort();
        this.options.datastore.sources.remove(source.id);
        this.progress.delete(id);
        this.errors.delete(id);
        this.stops.delete(id);
        this.options.events.publish({ type: "index-progress", progress: { sourceId: id, filesDone: 0, filesTotal: 0, bytes: 0, tokens: 0, rate: 0, etaSeconds: null, state: "done" } });
        const run = this.chain.catch(() => undefined).then(() => this.ingestor?.rebuild());
        this.chain = run;
        void run.catch((err) => console.error(`presage: rebuilding the index after removing ${source.path}: ${firstLine(err)}`));
    }

    private async removeFile(source: Source, documentId: number): Promise<void> {
        const doc = this.options.datastore.documents.get(documentId);
        if (doc == null || doc.sourceId !== source.id || doc.status !== "ready")
            throw new ServiceError("not-found", `There is no indexed file ${documentId} in ${source.path}: it may have been removed.`);
        // Queued behind scans, so a running scan cannot put the file back.
        const run = this.chain.catch(() => undefined).then(async () => {
            if (this.ingestor != null) await this.ingestor.excludeDocument(source.id, documentId);
            else this.options.datastore.documents.saveSkipped({ sourceId: source.id, path: doc.path, size: doc.size, mtimeMs: doc.mtimeMs, reason: removedByUserReason });
        });
        this.chain = run;
        await run;
    }

    /** Re-scans a source in the background: only changed files are read again. */
    rescan(id: string): void {
        this.require(id);
        void this.scan(id);
    }

    setWatch(id: string, watch: boolean): void {
        const source = this.require(id);
        this.options.datastore.sources.setWatch(source.id, watch);
        this.watcher.set(id, source.path, watch && !source.paused);
    }

    /**
     * Pauses a source (its running scan is cancelled at once, later scans and the watcher leave it
     * alone; what is indexed stays searchable), or resumes it, which scans it again.
     */
    setPaused(id: string, paused: unknown): void {
        const source = this.require(id);
        const value = validate(pausedSchema, { paused }, "paused flag").paused;
        this.options.datastore.sources.setPaused(source.id, value);
        this.watcher.set(id, source.path, source.watch && !value);
        if (value) {
            this.scanning.get(id)?.abort();
            const p = this.progress.get(id);
            if (p != null && p.state !== "done" && p.state !== "error") this.publish({ ...p, state: "done" });
        } else void this.scan(id);
    }

    /** Resolves when every scan started so far has finished (tests, shutdown). */
    async idle(): Promise<void> {
        for (;;) {
            const chain = this.chain;
            await chain.catch(() => undefined);
            if (chain === this.chain) return;
        }
    }

    async close(): Promise<void> {
        this.closed = true;
        await this.watcher.close();
        await this.idle();
        await this.ingestor?.close();
        this.ingestor = null;
    }

    /** The source whose scan is running: the ingestor's progress events belong to it. */
    private current: string | null = null;

    private scan(id: string): Promise<void> {
        const run = this.chain.catch(() => undefined).then(async () => {
            const ingestor = this.ingestor;
            const source = this.options.datastore.sources.get(Number(id));
            if (ingestor == null || source == null || source.paused || this.closed) return;
            this.current = id;
            this.errors.delete(id);
            const controller = new AbortController();
            this.scanning.set(id, controller);
            try {
                const report = await ingestor.scan({ sourceIds: [source.id], signal: controller.signal });
                const stop = report.stopped.find((s) => s.sourceId === source.id);
                if (stop != null) this.stops.set(id, stop.reason);
                else this.stops.delete(id);
            } catch (err) {
                // Cancelled by a removal or a pause: nothing went wrong. A paused source keeps what
                // it stored so far, so the index takes it in.
                if (controller.signal.aborted) {
                    if (this.options.datastore.sources.get(source.id) != null)
                        await ingestor.rebuild().catch((e) => console.error(`presage: updating the index after pausing ${source.path}: ${firstLine(e)}`));
                    return;
                }
                this.errors.set(id, `Indexing ${source.path} failed: ${firstLine(err)}`);
                const p = this.progress.get(id);
                if (p != null) this.publish({ ...p, state: "error" });
            } finally {
                this.scanning.delete(id);
                this.current = null;
            }
        });
        this.chain = run;
        return run;
    }

    private onProgress(p: IngestProgress): void {
        if (this.current == null) return;
        this.publish({
            sourceId: this.current,
            filesDone: p.filesDone,
            filesTotal: p.filesTotal,
            bytes: p.bytesDone,
            tokens: p.tokens,
            rate: p.bytesPerSecond,
            etaSeconds: p.etaSeconds,
            state: p.phase === "scanning" ? "scanning" : p.phase === "done" ? "done" : "indexing"
        });
    }

    private publish(progress: IndexProgress): void {
        this.progress.set(progress.sourceId, progress);
        this.options.events.publish({ type: "index-progress", progress });
    }

    private describe(s: Source, page: { limit: number; offset: number }): DocumentSource {
        const id = String(s.id);
        const documents = this.options.datastore.documents;
        const counts = documents.countsOf(s.id);
        const ready = documents.pageOf(s.id, "ready", page.limit, page.offset);
        const skipped = documents.pageOf(s.id, "skipped", page.limit, page.offset);
        const tokenizer = this.ingestor?.tokenizer.id;
        const tokensOf = tokenizer == null || ready.length === 0 ? new Map<number, number>() : documents.tokenCountsByDocument(tokenizer, s.id);
        const progress = this.progress.get(id) ?? null;
        const running = progress != null && progress.state !== "done" && progress.state !== "error";
        return {
            id,
            path: s.path,
            kind: s.kind,
            watch: s.watch,
            files: counts.ready + counts.skipped,
            indexed: counts.ready,
            skippedCount: counts.skipped,
            skipped: skipped.map((d) => ({ path: d.path, reason: d.skipReason ?? "skipped" })),
            indexedFiles: ready.map((d) => ({ id: `${s.id}:${d.id}`, path: d.path, tokens: tokensOf.get(d.id) ?? 0 })),
            tokens: tokenizer == null ? 0 : documents.tokenCount(tokenizer, [s.id]),
            state: this.errors.has(id) ? "error" : running ? "indexing" : "idle",
            paused: s.paused,
            stopReason: this.errors.get(id) ?? this.stops.get(id) ?? null,
            progress
        };
    }

    private require(id: string): Source {
        const n = Number(validate(idSchema, id, "source id"));
        const source = Number.isSafeInteger(n) ? this.options.datastore.sources.get(n) : undefined;
        if (source == null) throw new ServiceError("not-found", `There is no document source ${id}: it may have been removed.`);
        return source;
    }

    private storeBytes(): number {
        let total = 0;
        for (const suffix of ["", "-wal"]) {
            try {
                total += statSync(this.options.datastore.path + suffix).size;
            } catch {
                // No WAL right after a checkpoint.
            }
        }
        return total;
    }
}
