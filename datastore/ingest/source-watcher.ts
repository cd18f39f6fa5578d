import { watch, type FSWatcher } from "chokidar";
import { relative, sep } from "node:path";
import type { Source } from "../sources.ts";
import { skippedFolderNames } from "./file-walker.ts";
import type { IngestReport, Ingestor } from "./ingestor.ts";

export interface SourceWatcherOptions {
    /** Quiet time after the last change before a source is re-scanned (default 1000 ms). */
    debounceMs?: number;
    /** Called after each re-scan the watcher triggered. */
    onScan?: (source: Source, report: IngestReport) => void;
    onError?: (err: Error) => void;
}

/**
 * Follows the sources marked `watch` and re-scans one shortly after its files change. A re-scan
 * reads only what changed, so a burst of edits costs one short run.
 */
export class SourceWatcher {
    private watcher: FSWatcher | undefined;
    private watched: Source[] = [];
    private readonly timers = new Map<number, NodeJS.Timeout>();
    private closed = false;

    private constructor(
        private readonly ingestor: Ingestor,
        private readonly options: SourceWatcherOptions
    ) {}

    /** Starts watching; resolves once the initial listing of the watched folders is done. */
    static async start(ingestor: Ingestor, options: SourceWatcherOptions = {}): Promise<SourceWatcher> {
        const w = new SourceWatcher(ingestor, options);
        await w.refresh();
        return w;
    }

    /** Re-reads which sources are watched (call after adding, removing or flagging sources). */
    async refresh(): Promise<void> {
        await this.watcher?.close();
        this.watcher = undefined;
        if (this.closed) return;
        this.watched = this.ingestor.datastore.sources.list().filter((s) => s.watch);
        if (this.watched.length === 0) return;
        const watcher = watch(
            this.watched.map((s) => s.path),
            {
                ignoreInitial: true,
                followSymlinks: true,
                ignored: (path) => this.ignored(path)
            }
        );
        watcher.on("all", (_event, path) => this.changed(path));
        watcher.on("error", (err) => this.options.onError?.(err as Error));
        await new Promise<void>((resolve) => watcher.once("ready", () => resolve()));
        this.watcher = watcher;
    }

    /** Stops watching; scans already started finish on their own. */
    async close(): Promise<void> {
        this.closed = true;
        for (const t of this.timers.values()) clearTimeout(t);
        this.timers.clear();
        await this.watcher?.close();
    }

    private sourceOf(path: string): Source | undefined {
        let best: Source | undefined;
        for (const s of this.watched)
            if ((path === s.path || path.startsWith(s.path + sep)) && (best == null || s.path.length > best.path.length)) best = s;
        return best;
    }

    /** The same folders the walker leaves out are not watched either. */
    private ignored(path: string): boolean {
        const source = this.sourceOf(path);
        if (source == null) return false;
        const rel = relative(source.path, path);
        if (rel === "") return false;
        return rel.split(sep).some((part) => part.startsWith(".") || skippedFolderNames.has(part));
    }

    private changed(path: string): void {
        const source = this.sourceOf(path);
        if (source == null || this.closed) return;
        clearTimeout(this.timers.get(source.id));
        this.timers.set(
            source.id,
            setTimeout(() => {
                this.timers.delete(source.id);
                this.ingestor
                    .scan({ sourceIds: [source.id] })
                    .then((report) => this.options.onScan?.(source, report))
                    .catch((err: Error) => this.options.onError?.(err));
            }, this.options.debounceMs ?? 1000)
        );
    }
}
