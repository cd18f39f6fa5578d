import type { Database, Statement } from "better-sqlite3";
import type { TokenArray } from "./index/suffix-array.ts";
import { decodeTokens, encodeTokens } from "./token-codec.ts";

export type DocumentStatus = "ready" | "skipped";

/** A file found under a source: indexed (`ready`, its text stored) or `skipped` with the reason. */
export interface DocumentRecord {
    id: number;
    sourceId: number;
    /** Absolute path. */
    path: string;
    size: number;
    mtimeMs: number;
    /** sha256 of the file's bytes; null when it was skipped before being read. */
    contentHash: string | null;
    status: DocumentStatus;
    skipReason: string | null;
    updatedAt: number;
}

interface DocumentRow {
    id: number;
    source_id: number;
    path: string;
    size: number;
    mtime_ms: number;
    content_hash: string | null;
    status: DocumentStatus;
    skip_reason: string | null;
    updated_at: number;
}

const toRecord = (r: DocumentRow): DocumentRecord => ({
    id: r.id,
    sourceId: r.source_id,
    path: r.path,
    size: r.size,
    mtimeMs: r.mtime_ms,
    contentHash: r.content_hash,
    status: r.status,
    skipReason: r.skip_reason,
    updatedAt: r.updated_at
});

/** Where a file was and what it looked like when read. */
export interface FileFacts {
    sourceId: number;
    path: string;
    size: number;
    mtimeMs: number;
}

/** A token stream to store with a document. */
export interface StreamInput {
    tokenizerId: string;
    tokens: TokenArray;
}

/**
 * The `documents`, `document_text` and `token_streams` tables. Every write that belongs together
 * (a document's row, its text and its tokens) happens in one transaction, so a kill at any moment
 * leaves either the old state or the new one.
 */
export class DocumentStore {
    private readonly upsertRow: Statement;
    private readonly upsertText: Statement;
    private readonly deleteText: Statement;
    private readonly deleteStream: Statement;
    private readonly deleteStreams: Statement;
    private readonly insertStream: Statement;

    constructor(private readonly db: Database) {
        this.upsertRow = db.prepare(`
            INSERT INTO documents (source_id, path, size, mtime_ms, content_hash, status, skip_reason, updated_at)
            VALUES (@sourceId, @path, @size, @mtimeMs, @contentHash, @status, @skipReason, @now)
            ON CONFLICT (source_id, path) DO UPDATE SET size = excluded.size, mtime_ms = excluded.mtime_ms,
                content_hash = excluded.content_hash, status = excluded.status, skip_reason = excluded.skip_reason,
                updated_at = excluded.updated_at
            RETURNING id`);
        this.upsertText = db.prepare("INSERT INTO document_text (document_id, text) VALUES (?, ?) ON CONFLICT (document_id) DO UPDATE SET text = excluded.text");
        this.deleteText = db.prepare("DELETE FROM document_text WHERE document_id = ?");
        this.deleteStream = db.prepare("DELETE FROM token_streams WHERE document_id = ? AND tokenizer_id = ?");
        this.deleteStreams = db.prepare("DELETE FROM token_streams WHERE document_id = ?");
        this.insertStream = db.prepare("INSERT INTO token_streams (document_id, tokenizer_id, token_count, tokens) VALUES (?, ?, ?, ?)");
    }

    get(id: number): DocumentRecord | undefined {
        const row = this.db.prepare("SELECT * FROM documents WHERE id = ?").get(id) as DocumentRow | undefined;
        return row && toRecord(row);
    }

    byPath(sourceId: number, path: string): DocumentRecord | undefined {
        const row = this.db.prepare("SELECT * FROM documents WHERE source_id = ? AND path = ?").get(sourceId, path) as DocumentRow | undefined;
        return row && toRecord(row);
    }

    /** Documents of one source, or of all sources. */
    list(sourceId?: number): DocumentRecord[] {
        const rows = (
            sourceId == null
                ? this.db.prepare("SELECT * FROM documents ORDER BY id").all()
                : this.db.prepare("SELECT * FROM documents WHERE source_id = ? ORDER BY id").all(sourceId)
        ) as DocumentRow[];
        return rows.map(toRecord);
    }

    /** How many documents of a source are ready and skipped: counted in SQL, so a huge source costs nothing to list. */
    countsOf(sourceId: number): { ready: number; skipped: number } {
        const out = { ready: 0, skipped: 0 };
        const rows = this.db.prepare("SELECT status, count(*) AS n FROM documents WHERE source_id = ? GROUP BY status").all(sourceId) as { status: DocumentStatus; n: number }[];
        for (const r of rows) out[r.status] = r.n;
        return out;
    }

    /** One page of a source's documents of one status, in id order (the document list is paged). */
    pageOf(sourceId: number, status: DocumentStatus, limit: number, offset: number): DocumentRecord[] {
        const rows = this.db.prepare("SELECT * FROM documents WHERE source_id = ? AND status = ? ORDER BY id LIMIT ? OFFSET ?").all(sourceId, status, limit, offset) as DocumentRow[];
        return rows.map(toRecord);
    }

    /** Skipped documents with their reasons. */
    skipped(sourceId?: number): DocumentRecord[] {
        return this.list(sourceId).filter((d) => d.status === "skipped");
    }

    counts(): { ready: number; skipped: number } {
        const rows = this.db.prepare("SELECT status, count(*) AS n FROM documents GROUP BY status").all() as { status: DocumentStatus; n: number }[];
        const out = { ready: 0, skipped: 0 };
        for (const r of rows) out[r.status] = r.n;
        return out;
    }

    /** The extracted text of a ready document. */
    text(id: number): string | undefined {
        return (this.db.prepare("SELECT text FROM document_text WHERE document_id = ?").get(id) as { text: string } | undefined)?.text;
    }

    /**
     * Stores a readable document: row, text and (optionally) its tokens, replacing whatever an
     * earlier version of the file left. Tokens of other tokenizers are dropped: they belong to the
     * old text.
     */
    saveReady(facts: FileFacts & { contentHash: string; text: string }, stream?: StreamInput): number {
        return this.db.transaction(() => {
            const { id } = this.upsertRow.get({ ...facts, status: "ready", skipReason: null, now: Date.now() }) as { id: number };
            this.upsertText.run(id, facts.text);
            this.deleteStreams.run(id);
            if (stream != null) this.insertStream.run(id, stream.tokenizerId, stream.tokens.length, encodeTokens(stream.tokens));
            return id;
        })();
    }

    /** Records a file that will not be indexed, dropping any text and tokens an earlier version left. */
    saveSkipped(facts: FileFacts & { reason: string; contentHash?: string | null }): number {
        return this.db.transaction(() => {
            const { id } = this.upsertRow.get({ ...facts, contentHash: facts.contentHash ?? null, status: "skipped", skipReason: facts.reason, now: Date.now() }) as {
                id: number;
            };
            this.deleteText.run(id);
            this.deleteStreams.run(id);
            return id;
        })();
    }

    /** A file whose bytes did not change but whose mtime did (touched, copied back): just note it. */
    touch(id: number, size: number, mtimeMs: number): void {
        this.db.prepare("UPDATE documents SET size = ?, mtime_ms = ?, updated_at = ? WHERE id = ?").run(size, mtimeMs, Date.now(), id);
    }

    /**
     * Stores (or replaces) the tokens of a document for one tokenizer. Replacing is a delete then an
     * insert, so the triggers drop any shard built from the old tokens.
     */
    saveTokens(documentId: number, stream: StreamInput): void {
        this.db.transaction(() => {
            this.deleteStream.run(documentId, stream.tokenizerId);
            this.insertStream.run(documentId, stream.tokenizerId, stream.tokens.length, encodeTokens(stream.tokens));
        })();
    }

    /** The stored tokens of a document for a tokenizer. */
    tokens(documentId: number, tokenizerId: string, width: 2 | 4): TokenArray | undefined {
        const row = this.db.prepare("SELECT tokens FROM token_streams WHERE document_id = ? AND tokenizer_id = ?").get(documentId, tokenizerId) as
            | { tokens: Buffer }
            | undefined;
        return row && decodeTokens(row.tokens, width);
    }

    hasTokens(documentId: number, tokenizerId: string): boolean {
        return this.db.prepare("SELECT 1 FROM token_streams WHERE document_id = ? AND tokenizer_id = ?").get(documentId, tokenizerId) != null;
    }

    /** Ready documents that have no tokens for this tokenizer yet (new tokenizer, or interrupted run). */
    missingTokens(tokenizerId: string): { id: number; size: number }[] {
        return this.db
            .prepare(
                `SELECT d.id, length(t.text) AS size FROM documents d JOIN document_text t ON t.document_id = d.id
                 WHERE d.status = 'ready' AND NOT EXISTS (SELECT 1 FROM token_streams s WHERE s.document_id = d.id AND s.tokenizer_id = ?)
                 ORDER BY d.id`
            )
            .all(tokenizerId) as { id: number; size: number }[];
    }

    /** Total tokens stored for a tokenizer (optionally only for some sources). */
    tokenCount(tokenizerId: string, sourceIds?: readonly number[]): number {
        if (sourceIds == null)
            return (this.db.prepare("SELECT coalesce(sum(token_count), 0) AS n FROM token_streams WHERE tokenizer_id = ?").get(tokenizerId) as { n: number }).n;
        let total = 0;
        const stmt = this.db.prepare(
            "SELECT coalesce(sum(s.token_count), 0) AS n FROM token_streams s JOIN documents d ON d.id = s.document_id WHERE s.tokenizer_id = ? AND d.source_id = ?"
        );
        for (const id of sourceIds) total += (stmt.get(tokenizerId, id) as { n: number }).n;
        return total;
    }

    /** Tokens stored per ready document of a source for a tokenizer (documents without tokens are absent). */
    tokenCountsByDocument(tokenizerId: string, sourceId: number): Map<number, number> {
        const rows = this.db
            .prepare("SELECT s.document_id AS id, s.token_count AS n FROM token_streams s JOIN documents d ON d.id = s.document_id WHERE s.tokenizer_id = ? AND d.source_id = ?")
            .all(tokenizerId, sourceId) as { id: number; n: number }[];
        return new Map(rows.map((r) => [r.id, r.n]));
    }

    /** Deletes a document and everything derived from it (shards containing it are invalidated). */
    remove(id: number): void {
        this.db.prepare("DELETE FROM documents WHERE id = ?").run(id);
    }
}
