import BetterSqlite3, { type Database } from "better-sqlite3";
import { EventEmitter } from "node:events";
import { accessSync, closeSync, constants, mkdirSync, openSync, readSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { ConversationStore } from "./conversations.ts";
import { DatastoreError } from "./datastore-error.ts";
import { DocumentStore } from "./documents.ts";
import { ShardStore } from "./index/shard-store.ts";
import { Migrations, presageApplicationId } from "./migrations.ts";
import { Settings } from "./settings.ts";
import { SourceStore } from "./sources.ts";
import { sqliteNativeBinding } from "./sqlite-binding.ts";
import { TokenizerStore } from "./tokenizers.ts";

/** What changed in a datastore, for in-process listeners (drafters refresh their indexes on these). */
export interface DatastoreEvents {
    /** Index shards of this tokenizer were added or removed. */
    "index-changed": [tokenizerId: string];
    /** A message was stored (the history drafter indexes assistant answers as they arrive). */
    "message-added": [message: { id: number; conversationId: number; role: string; content: string }];
    /** Messages were deleted (a conversation, or all history): history indexes rebuild. */
    "messages-removed": [];
    /** A setting was written or deleted (cached readers such as the history index re-read it). */
    "setting-changed": [key: string];
}

export interface DatastoreOpenOptions {
    /** Open without writing (no migrations, no WAL switch); fails on a file that needs migrating. */
    readonly?: boolean;
}

const sqliteHeader = Buffer.from("SQLite format 3\0", "latin1");

/**
 * The user's personal store: one SQLite file (WAL, foreign keys on) holding sources, documents,
 * their text and token streams, the retrieval index, conversations and settings.
 *
 * Each concept has its own class, reached through this one; they all share the connection.
 */
export class Datastore {
    readonly settings: Settings;
    readonly sources: SourceStore;
    readonly documents: DocumentStore;
    readonly tokenizers: TokenizerStore;
    readonly shards: ShardStore;
    readonly conversations: ConversationStore;
    /** In-process change notifications. */
    readonly events = new EventEmitter<DatastoreEvents>();
    private closed = false;

    private constructor(
        /** The raw connection, for the stores in this folder and for tests; not for other modules. */
        readonly db: Database,
        /** Absolute path of the database file. */
        readonly path: string
    ) {
        this.settings = new Settings(db, this.events);
        this.sources = new SourceStore(db);
        this.documents = new DocumentStore(db);
        this.tokenizers = new TokenizerStore(db);
        this.shards = new ShardStore(db);
        this.conversations = new ConversationStore(db, this.events);
    }

    /**
     * Opens (or creates) a datastore and brings its schema up to date.
     *
     * @throws DatastoreError when the file was written by a newer Presage, is some other SQLite
     * database or not a database at all, or is damaged. The file is left untouched in every case.
     */
    static open(path: string, options: DatastoreOpenOptions = {}): Datastore {
        const file = resolve(path);
        const migrations = new Migrations();
        const existing = Datastore.inspect(file);
        if (existing === "missing") {
            if (options.readonly) throw new DatastoreError(`${file} does not exist; index some documents first.`, "unusable");
            makeFolder(dirname(file));
        } else {
            // Look before writing anything: opening read-write would switch the journal mode,
            // and a migration would rewrite a newer schema we do not understand.
            Datastore.checkCompatible(file, migrations.latest);
            if (!options.readonly) Datastore.checkWritable(file);
        }
        // Inside Electron, the copy of better-sqlite3 built for Electron's ABI (see sqlite-binding.ts).
        const nativeBinding = sqliteNativeBinding();
        let db: Database;
        try {
            db = new BetterSqlite3(file, { readonly: options.readonly === true, nativeBinding });
        } catch (err) {
            throw new DatastoreError(`Cannot open ${file} (${(err as Error).message}); check the path and its permissions.`, "unusable", { cause: err });
        }
        try {
            if (!options.readonly) {
                db.pragma("journal_mode = WAL");
                // NORMAL in WAL mode never corrupts the database on a crash; it may only lose the
                // last commits on power loss, which a re-scan recovers.
                db.pragma("synchronous = NORMAL");
            }
            db.pragma("foreign_keys = ON");
            db.pragma("busy_timeout = 5000");
            if (!options.readonly) migrations.apply(db);
            else if (Migrations.versionOf(db) !== migrations.latest)
                throw new DatastoreError(`${file} needs upgrading; open it once without read-only mode.`, "unusable");
        } catch (err) {
            db.close();
            if (err instanceof DatastoreError) throw err;
            // Root ignores file modes, a read-only mount does not: a sound file can still refuse writes.
            if (/^SQLITE_(READONLY|CANTOPEN)/.test(String((err as { code?: unknown }).code))) throw Datastore.readOnly(file, err);
            throw Datastore.corrupt(file, err);
        }
        return new Datastore(db, file);
    }

    /** Closes the connection (idempotent). Checkpoints the WAL so the file is whole on its own. */
    close(): void {
        if (this.closed) return;
        this.closed = true;
        this.events.removeAllListeners();
        try {
            if (!this.db.readonly) this.db.pragma("wal_checkpoint(TRUNCATE)");
        } catch {
            // Another connection may hold the WAL open; it will checkpoint itself.
        }
        this.db.close();
    }

    get isOpen(): boolean {
        return !this.closed;
    }

    /**
     * Bytes the retrieval index takes on disk (token streams and shards with their indexes), counted
     * in SQLite pages rather than blob lengths.
     */
    indexDiskBytes(): number {
        const row = this.db
            .prepare(
                `SELECT coalesce(sum(pgsize), 0) AS bytes FROM dbstat WHERE name IN
                 ('token_streams', 'sqlite_autoindex_token_streams_1', 'index_shards', 'index_shards_by_tokenizer',
                  'shard_documents', 'shard_documents_by_document', 'shard_chunks', 'sqlite_autoindex_shard_chunks_1')`
            )
            .get() as { bytes: number };
        return row.bytes;
    }

    /** `PRAGMA integrity_check`: "ok" or the problems SQLite found. */
    integrityCheck(): string {
        const rows = this.db.pragma("integrity_check") as { integrity_check: string }[];
        return rows.map((r) => r.integrity_check).join("; ");
    }

    private static inspect(file: string): "missing" | "empty" | "present" {
        let size: number;
        try {
            const st = statSync(file);
            if (!st.isFile()) throw new DatastoreError(`${file} is not a file; choose a database file path.`, "unusable");
            size = st.size;
        } catch (err) {
            if (err instanceof DatastoreError) throw err;
            if ((err as NodeJS.ErrnoException).code === "ENOENT") return "missing";
            throw new DatastoreError(`Cannot read ${file} (${(err as Error).message}); check its permissions.`, "unusable", { cause: err });
        }
        if (size === 0) return "empty";
        const head = Buffer.alloc(16);
        const fd = openSync(file, "r");
        try {
            readSync(fd, head, 0, 16, 0);
        } finally {
            closeSync(fd);
        }
        if (!head.equals(sqliteHeader)) throw Datastore.corrupt(file);
        return "present";
    }

    private static checkCompatible(file: string, latest: number): void {
        let probe: Database | undefined;
        try {
            probe = new BetterSqlite3(file, { readonly: true, fileMustExist: true });
            const version = Migrations.versionOf(probe);
            const appId = probe.pragma("application_id", { simple: true }) as number;
            const tables = (probe.prepare("SELECT count(*) AS n FROM sqlite_master").get() as { n: number }).n;
            if (appId !== presageApplicationId && (tables > 0 || version !== 0))
                throw new DatastoreError(`${file} is not a Presage database or is corrupt; choose another file (it was left as it is).`, "not-presage");
            if (version > latest)
                throw new DatastoreError(
                    `${file} was written by a newer Presage (schema ${version}, this build knows ${latest}); update Presage to open it (the file was left as it is).`,
                    "newer-version"
                );
            // A damaged page deeper in the file passes every check above and would only fail (or be
            // written over) later, mid-request. quick_check reads every page once without the slower
            // index cross-checks of integrity_check.
            const problems = (probe.pragma("quick_check(5)") as { quick_check: string }[]).map((r) => r.quick_check);
            if (problems.length !== 1 || problems[0] !== "ok") throw Datastore.corrupt(file, new Error(problems.join("; ").replace(/\s+/g, " ").slice(0, 300)));
        } catch (err) {
            if (err instanceof DatastoreError) throw err;
            // A WAL file in a folder we may not write cannot even be read: that is not damage.
            if (/^SQLITE_(READONLY|CANTOPEN)/.test(String((err as { code?: unknown }).code))) throw Datastore.readOnly(file, err);
            throw Datastore.corrupt(file, err);
        } finally {
            probe?.close();
        }
    }

    /** A sound file (or its folder, where the WAL files go) that this process may not write. */
    private static checkWritable(file: string): void {
        for (const path of [file, dirname(file)]) {
            try {
                accessSync(path, constants.W_OK);
            } catch (err) {
                throw Datastore.readOnly(file, err);
            }
        }
    }

    private static readOnly(file: string, cause: unknown): DatastoreError {
        const code = (cause as { code?: unknown })?.code;
        return new DatastoreError(
            `${file} is read-only${typeof code === "string" ? ` (${code})` : ""}: Presage needs to write to it and to its folder; make them writable or choose another file (the file was left as it is).`,
            "read-only",
            { cause }
        );
    }

    private static corrupt(file: string, cause?: unknown): DatastoreError {
        const detail = cause instanceof Error ? ` (${cause.message})` : "";
        return new DatastoreError(
            `${file} is not a Presage database or is corrupt${detail}; restore it from a backup or choose another file (it was left as it is).`,
            "corrupt",
            { cause }
        );
    }
}

/**
 * Creates `dir` and its missing parents one level at a time. Node's recursive mkdir never returns
 * on some paths (under /proc it spins at 100% CPU), so each level is made on its own and the first
 * failure is a one-line error.
 */
function makeFolder(dir: string): void {
    const missing: string[] = [];
    for (let at = dir; ; at = dirname(at)) {
        let isDir: boolean;
        try {
            isDir = statSync(at).isDirectory();
        } catch (err) {
            const code = (err as NodeJS.ErrnoException).code;
            if ((code === "ENOENT") && dirname(at) !== at) {
                missing.push(at);
                continue;
            }
            throw new DatastoreError(`Cannot create the folder ${dir} for the database (${code ?? (err as Error).message} on ${at}); choose another --db path.`, "unusable", { cause: err });
        }
        if (!isDir) throw new DatastoreError(`Cannot create the folder ${dir} for the database: ${at} is a file; choose another --db path.`, "unusable");
        break;
    }
    for (const at of missing.reverse()) {
        try {
            mkdirSync(at);
        } catch (err) {
            const code = (err as NodeJS.ErrnoException).code;
            if (code === "EEXIST" && statSync(at, { throwIfNoEntry: false })?.isDirectory()) continue;
            throw new DatastoreError(`Cannot create the folder ${dir} for the database (${code ?? (err as Error).message} on ${at}); choose another --db path.`, "unusable", { cause: err });
        }
    }
}
