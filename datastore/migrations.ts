import type { Database } from "better-sqlite3";
import { titleFrom } from "./conversations.ts";

/** `PRAGMA application_id` of every Presage datastore ("PRSG"): tells our files from other SQLite files. */
export const presageApplicationId = 0x50525347;

/** One step of the schema. Steps run in order, each in its own transaction, and are never edited once released. */
export interface Migration {
    version: number;
    description: string;
    up(db: Database): void;
}

const initialSchema = `
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL                 -- JSON
);

CREATE TABLE sources (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('folder', 'file')),
    path         TEXT NOT NULL UNIQUE,  -- absolute
    watch        INTEGER NOT NULL DEFAULT 0,
    added_at     INTEGER NOT NULL,
    last_scan_at INTEGER
);

-- One row per file found under a source, indexed or not: a skipped file keeps its reason so the
-- user can see why it is missing.
CREATE TABLE documents (
    id           INTEGER PRIMARY KEY,
    source_id    INTEGER NOT NULL REFERENCES sources(id) ON DELETE CASCADE,
    path         TEXT NOT NULL,         -- absolute
    size         INTEGER NOT NULL,
    mtime_ms     INTEGER NOT NULL,
    content_hash TEXT,                  -- sha256 of the file's bytes
    status       TEXT NOT NULL CHECK (status IN ('ready', 'skipped')),
    skip_reason  TEXT,
    updated_at   INTEGER NOT NULL,
    UNIQUE (source_id, path)
);

CREATE TABLE document_text (
    document_id INTEGER PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,
    text        TEXT NOT NULL
);

-- A tokenizer is named by a hash of its vocabulary, so models that share one share their streams.
CREATE TABLE tokenizers (
    id          TEXT PRIMARY KEY,
    vocab_size  INTEGER NOT NULL,
    token_width INTEGER NOT NULL CHECK (token_width IN (2, 4)),
    label       TEXT,
    created_at  INTEGER NOT NULL
);

-- Little-endian 16- or 32-bit token ids (the tokenizer's width), no separators.
CREATE TABLE token_streams (
    id           INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused: shards check they hold the same streams
    document_id  INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    tokenizer_id TEXT NOT NULL REFERENCES tokenizers(id) ON DELETE CASCADE,
    token_count  INTEGER NOT NULL,
    tokens       BLOB NOT NULL,
    UNIQUE (document_id, tokenizer_id)
);

-- A shard is a set of documents whose streams, joined by separators, are searched through one
-- suffix array. Its stream is not stored again: it is rebuilt from token_streams on load.
CREATE TABLE index_shards (
    id           INTEGER PRIMARY KEY,
    tokenizer_id TEXT NOT NULL REFERENCES tokenizers(id) ON DELETE CASCADE,
    token_count  INTEGER NOT NULL,      -- real tokens = suffix array entries
    depth        INTEGER NOT NULL,
    created_at   INTEGER NOT NULL
);
CREATE INDEX index_shards_by_tokenizer ON index_shards(tokenizer_id);

CREATE TABLE shard_documents (
    shard_id    INTEGER NOT NULL REFERENCES index_shards(id) ON DELETE CASCADE,
    ordinal     INTEGER NOT NULL,
    document_id INTEGER NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
    PRIMARY KEY (shard_id, ordinal)
) WITHOUT ROWID;
CREATE INDEX shard_documents_by_document ON shard_documents(document_id);

-- The suffix array as little-endian int32, split in chunks so no single blob gets huge.
CREATE TABLE shard_chunks (
    shard_id INTEGER NOT NULL REFERENCES index_shards(id) ON DELETE CASCADE,
    chunk    INTEGER NOT NULL,
    data     BLOB NOT NULL,
    PRIMARY KEY (shard_id, chunk)
);

-- A shard is only valid with exactly the streams it was built from: when one goes away or changes,
-- the shard goes too (its other documents are re-sharded by the next index build).
CREATE TRIGGER token_streams_invalidate_on_delete AFTER DELETE ON token_streams BEGIN
    DELETE FROM index_shards WHERE tokenizer_id = OLD.tokenizer_id
        AND id IN (SELECT shard_id FROM shard_documents WHERE document_id = OLD.document_id);
END;
-- Deleting a document cascades to shard_documents too, in no set order, so the shard is found and
-- dropped before the cascade runs.
CREATE TRIGGER documents_invalidate_shards BEFORE DELETE ON documents BEGIN
    DELETE FROM index_shards WHERE id IN (SELECT shard_id FROM shard_documents WHERE document_id = OLD.id);
END;
CREATE TRIGGER token_streams_invalidate_on_update AFTER UPDATE OF tokens ON token_streams BEGIN
    DELETE FROM index_shards WHERE tokenizer_id = OLD.tokenizer_id
        AND id IN (SELECT shard_id FROM shard_documents WHERE document_id = OLD.document_id);
END;

CREATE TABLE conversations (
    id         INTEGER PRIMARY KEY,
    title      TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

CREATE TABLE messages (
    id              INTEGER PRIMARY KEY,
    conversation_id INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    role            TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
    content         TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    stats           TEXT                -- JSON, optional
);
CREATE INDEX messages_by_conversation ON messages(conversation_id, id);
CREATE INDEX messages_by_role ON messages(role, id);

-- Assistant answers tokenized for the history drafter, per tokenizer (same layout as token_streams).
CREATE TABLE message_tokens (
    message_id   INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,
    tokenizer_id TEXT NOT NULL REFERENCES tokenizers(id) ON DELETE CASCADE,
    tokens       BLOB NOT NULL,
    PRIMARY KEY (message_id, tokenizer_id)
) WITHOUT ROWID;
`;

/** Every schema step, oldest first. `user_version` holds the last one applied. */
export const migrations: readonly Migration[] = [
    {
        version: 1,
        description: "sources, documents, token streams, index shards, conversations, settings",
        up(db) {
            db.exec(initialSchema);
            db.pragma(`application_id = ${presageApplicationId}`);
        }
    },
    {
        version: 2,
        description: "answer versions (messages.hidden); titles from the first user message",
        up(db) {
            db.exec("ALTER TABLE messages ADD COLUMN hidden INTEGER NOT NULL DEFAULT 0 CHECK (hidden IN (0, 1))");
            // Conversations whose system prompt was set first were stored as "New chat" (or untitled)
            // and kept that title: give them the title of their first user message.
            const untitled = db
                .prepare(
                    `SELECT c.id, (SELECT m.content FROM messages m WHERE m.conversation_id = c.id AND m.role = 'user' ORDER BY m.id LIMIT 1) AS first
                     FROM conversations c WHERE c.title IN ('', 'New chat')`
                )
                .all() as { id: number; first: string | null }[];
            const rename = db.prepare("UPDATE conversations SET title = ? WHERE id = ?");
            for (const c of untitled) rename.run(c.first == null ? "" : titleFrom(c.first), c.id);
        }
    },
    {
        version: 3,
        description: "conversations' system prompt and sampling in columns (were `conversation.N` settings)",
        up(db) {
            db.exec(`ALTER TABLE conversations ADD COLUMN system_prompt TEXT NOT NULL DEFAULT '';
                     ALTER TABLE conversations ADD COLUMN sampling TEXT NOT NULL DEFAULT '{}'`);
            // Earlier builds kept { systemPrompt, sampling } per conversation in a settings entry.
            // Read them as those builds did (a wrong-typed part counts as unset); a key whose
            // conversation is gone stays where it is, untouched.
            const entries = db.prepare("SELECT key, value FROM settings WHERE key GLOB 'conversation.[1-9]*'").all() as { key: string; value: string }[];
            const move = db.prepare("UPDATE conversations SET system_prompt = ?, sampling = ? WHERE id = ?");
            const drop = db.prepare("DELETE FROM settings WHERE key = ?");
            for (const { key, value } of entries) {
                const id = key.slice("conversation.".length);
                if (!/^[1-9]\d{0,15}$/.test(id)) continue;
                let parsed: unknown;
                try {
                    parsed = JSON.parse(value);
                } catch {
                    parsed = undefined;
                }
                const extras = (parsed ?? {}) as { systemPrompt?: unknown; sampling?: unknown };
                const systemPrompt = typeof extras.systemPrompt === "string" ? extras.systemPrompt : "";
                const sampling = extras.sampling != null && typeof extras.sampling === "object" && !Array.isArray(extras.sampling) ? extras.sampling : {};
                if (move.run(systemPrompt, JSON.stringify(sampling), Number(id)).changes > 0) drop.run(key);
            }
        }
    },
    {
        version: 4,
        description: "a source can be paused: scans leave it alone until it is resumed",
        up(db) {
            db.exec("ALTER TABLE sources ADD COLUMN paused INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1))");
        }
    },
    {
        version: 5,
        description: "thinking on or off per conversation (NULL: the chat template's default)",
        up(db) {
            db.exec("ALTER TABLE conversations ADD COLUMN thinking INTEGER CHECK (thinking IN (0, 1))");
        }
    }
];

/** Applies the numbered migrations a database has not seen yet. */
export class Migrations {
    constructor(private readonly steps: readonly Migration[] = migrations) {}

    /** The version this build writes. */
    get latest(): number {
        return this.steps.length === 0 ? 0 : this.steps[this.steps.length - 1].version;
    }

    /** The version a database is at (`PRAGMA user_version`). */
    static versionOf(db: Database): number {
        return db.pragma("user_version", { simple: true }) as number;
    }

    /**
     * Runs each missing step in its own transaction; a crash between steps leaves the database at
     * the last completed version, and the next open carries on from there.
     */
    apply(db: Database): { from: number; to: number } {
        const from = Migrations.versionOf(db);
        for (const step of this.steps) {
            if (step.version <= Migrations.versionOf(db)) continue;
            db.transaction(() => {
                step.up(db);
                db.pragma(`user_version = ${step.version}`);
            })();
        }
        return { from, to: Migrations.versionOf(db) };
    }
}
