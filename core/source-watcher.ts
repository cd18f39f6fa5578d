import { watch, type FSWatcher } from "chokidar";

export interface SourceWatcherOptions {
    /** Called once changes to a source have settled. */
    onChange: (sourceId: string) => void;
    /** Quiet time before a burst of changes triggers a re-scan (ms). */
    debounceMs?: number;
}

/**
 * Watches the folders and files whose sources have `watch` on, and asks for a re-scan once a burst
 * of changes is over: the ingestor then reads only what changed.
 */
export class SourceWatcher {
    private readonly watchers = new Map<string, FSWatcher>();
    private readonly timers = new Map<string, NodeJS.Timeout>();

    constructor(private readonly options: SourceWatcherOptions) {}

    set(sourceId: string, path: string, on: boolean): void {
        const existing = this.watchers.get(sourceId);
        if (!on) {
            void existing?.close();
            this.watchers.delete(sourceId);
            clearTimeout(this.timers.get(sourceId));
            this.timers.delete(sourceId);
            return;
        }
        if (existing != null) return;
        const watcher = watch(path, { ignoreInitial: true, persistent: false, awaitWriteFinish: { stabilityThreshold: 300 } });
        watcher.on("all", () => this.changed(sourceId));
        watcher.on("error", () => undefined);
        this.watchers.set(sourceId, watcher);
    }

    async close(): Promise<void> {
        for (const t of this.timers.values()) clearTimeout(t);
        this.timers.clear();
        await Promise.all([...this.watchers.values()].map((w) => w.close()));
        this.watchers.clear();
    }

    private changed(sourceId: string): void {
        clearTimeout(this.timers.get(sourceId));
        this.timers.set(sourceId, setTimeout(() => {
            this.timers.delete(sourceId);
            this.options.onChange(sourceId);
        }, this.options.debounceMs ?? 2000));
    }
}
