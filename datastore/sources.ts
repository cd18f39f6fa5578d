import type { Database } from "better-sqlite3";

export type SourceKind = "folder" | "file";

/** A folder or file the user asked to index. */
export interface Source {
    id: number;
    kind: SourceKind;
    /** Absolute path. */
    path: string;
    /** Whether the live watcher follows it. */
    watch: boolean;
    /** Paused by the user: scans leave it alone (what is indexed stays) until it is resumed. */
    paused: boolean;
    addedAt: number;
    lastScanAt: number | null;
}

interface SourceRow {
    id: number;
    kind: SourceKind;
    path: string;
    watch: number;
    paused: number;
    added_at: number;
    last_scan_at: number | null;
}

const toSource = (r: SourceRow): Source => ({ id: r.id, kind: r.kind, path: r.path, watch: r.watch !== 0, paused: r.paused !== 0, addedAt: r.added_at, lastScanAt: r.last_scan_at });

/** The `sources` table. Removing a source removes its documents, text, token streams and shards (cascades). */
export class SourceStore {
    constructor(private readonly db: Database) {}

    /** Adds a source, or returns the existing one for this path (updating `watch` if given). */
    add(path: string, kind: SourceKind, options: { watch?: boolean } = {}): Source {
        const existing = this.byPath(path);
        if (existing != null) {
            if (options.watch != null && options.watch !== existing.watch) this.setWatch(existing.id, options.watch);
            return this.get(existing.id)!;
        }
        const info = this.db
            .prepare("INSERT INTO sources (kind, path, watch, added_at) VALUES (?, ?, ?, ?)")
            .run(kind, path, options.watch ? 1 : 0, Date.now());
        return this.get(Number(info.lastInsertRowid))!;
    }

    get(id: number): Source | undefined {
        const row = this.db.prepare("SELECT * FROM sources WHERE id = ?").get(id) as SourceRow | undefined;
        return row && toSource(row);
    }

    byPath(path: string): Source | undefined {
        const row = this.db.prepare("SELECT * FROM sources WHERE path = ?").get(path) as SourceRow | undefined;
        return row && toSource(row);
    }

    list(): Source[] {
        return (this.db.prepare("SELECT * FROM sources ORDER BY id").all() as SourceRow[]).map(toSource);
    }

    setWatch(id: number, watch: boolean): void {
        this.db.prepare("UPDATE sources SET watch = ? WHERE id = ?").run(watch ? 1 : 0, id);
    }

    setPaused(id: number, paused: boolean): void {
        this.db.prepare("UPDATE sources SET paused = ? WHERE id = ?").run(paused ? 1 : 0, id);
    }

    markScanned(id: number, at = Date.now()): void {
        this.db.prepare("UPDATE sources SET last_scan_at = ? WHERE id = ?").run(at, id);
    }

    /** Deletes the source and everything derived from it. Returns whether it existed. */
    remove(id: number): boolean {
        return this.db.prepare("DELETE FROM sources WHERE id = ?").run(id).changes > 0;
    }
}
