import type { Database, Statement } from "better-sqlite3";
import type { EventEmitter } from "node:events";
import type { DatastoreEvents } from "./datastore.ts";

/** The settings the datastore itself reads, with their defaults. */
export interface DatastoreSettings {
    /** Files larger than this are skipped without being read. */
    "ingest.maxFileBytes": number;
    /** A source stops being walked after this many files (indexable or not): bounds a folder chosen too wide. */
    "ingest.maxSourceFiles": number;
    /** A source stops being walked once its indexable files hold this many bytes: bounds the store's growth. */
    "ingest.maxSourceBytes": number;
    /** Whether past assistant answers feed the history drafter. */
    "history.enabled": boolean;
    /** Tokens per index shard: bigger shards mean fewer binary searches per lookup but longer rebuilds. */
    "index.shardTokens": number;
    /** Above this many shards for one tokenizer, the smallest are merged. */
    "index.maxShards": number;
}

export const defaultSettings: DatastoreSettings = {
    "ingest.maxFileBytes": 20 * 1024 * 1024,
    // A person's documents folder fits; a whole disk does not.
    "ingest.maxSourceFiles": 100_000,
    "ingest.maxSourceBytes": 2 * 1024 * 1024 * 1024,
    "history.enabled": true,
    "index.shardTokens": 4_000_000,
    "index.maxShards": 8
};

/**
 * Key/value settings stored as JSON. The keys above are typed and have defaults; any other key
 * (the app's own preferences) can be stored through `getJson` / `setJson`.
 */
export class Settings {
    private readonly select: Statement<[string], { value: string }>;
    private readonly upsert: Statement<[string, string]>;
    private readonly remove: Statement<[string]>;

    constructor(
        db: Database,
        private readonly events?: EventEmitter<DatastoreEvents>
    ) {
        this.select = db.prepare("SELECT value FROM settings WHERE key = ?");
        this.upsert = db.prepare("INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value");
        this.remove = db.prepare("DELETE FROM settings WHERE key = ?");
    }

    get<K extends keyof DatastoreSettings>(key: K): DatastoreSettings[K] {
        const stored = this.getJson(key);
        // A value of the wrong type (hand-edited, or from an older build) falls back to the default.
        return typeof stored === typeof defaultSettings[key] ? (stored as DatastoreSettings[K]) : defaultSettings[key];
    }

    set<K extends keyof DatastoreSettings>(key: K, value: DatastoreSettings[K]): void {
        this.setJson(key, value);
    }

    /** The stored JSON value, or undefined. */
    getJson(key: string): unknown {
        const row = this.select.get(key);
        if (row == null) return undefined;
        try {
            return JSON.parse(row.value);
        } catch {
            return undefined;
        }
    }

    setJson(key: string, value: unknown): void {
        if (value === undefined) this.remove.run(key);
        else this.upsert.run(key, JSON.stringify(value));
        this.events?.emit("setting-changed", key);
    }

    /** Forgets a key (typed keys go back to their default). */
    delete(key: string): void {
        this.remove.run(key);
        this.events?.emit("setting-changed", key);
    }
}
