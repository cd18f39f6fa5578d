import type { Database } from "better-sqlite3";
import { copyBlobInto, encodeTokens } from "../token-codec.ts";
import { IndexShard } from "./index-shard.ts";
import { separatorFor, type TokenArray } from "./suffix-array.ts";

/** A stored shard's header. */
export interface ShardRecord {
    id: number;
    tokenizerId: string;
    /** Real tokens (= suffix array entries). */
    tokenCount: number;
    depth: number;
    createdAt: number;
}

/** A document's token stream, as a shard plan sees it. */
export interface StreamRef {
    documentId: number;
    /** token_streams row id: changes whenever the stream is replaced, so a plan can tell it is stale. */
    streamId: number;
    tokenCount: number;
}

/** Suffix array entries per stored chunk (16 MiB). */
const chunkEntries = 4 * 1024 * 1024;

/**
 * The `index_shards`, `shard_documents` and `shard_chunks` tables: the suffix arrays of the
 * retrieval index. A shard's token stream is not stored twice: it is the concatenation of its
 * documents' streams, each followed by a separator, rebuilt on load.
 */
export class ShardStore {
    constructor(private readonly db: Database) {}

    list(tokenizerId: string): ShardRecord[] {
        return (
            this.db.prepare("SELECT id, tokenizer_id, token_count, depth, created_at FROM index_shards WHERE tokenizer_id = ? ORDER BY id").all(tokenizerId) as {
                id: number;
                tokenizer_id: string;
                token_count: number;
                depth: number;
                created_at: number;
            }[]
        ).map((r) => ({ id: r.id, tokenizerId: r.tokenizer_id, tokenCount: r.token_count, depth: r.depth, createdAt: r.created_at }));
    }

    /** Streams of this tokenizer that no shard covers yet, oldest first. */
    unsharded(tokenizerId: string): StreamRef[] {
        return this.db
            .prepare(
                `SELECT s.document_id AS documentId, s.id AS streamId, s.token_count AS tokenCount FROM token_streams s
                 WHERE s.tokenizer_id = ? AND s.token_count > 0 AND NOT EXISTS (
                     SELECT 1 FROM shard_documents sd JOIN index_shards i ON i.id = sd.shard_id
                     WHERE sd.document_id = s.document_id AND i.tokenizer_id = s.tokenizer_id)
                 ORDER BY s.document_id`
            )
            .all(tokenizerId) as StreamRef[];
    }

    /** The streams a shard was built from, in order. */
    streamsOf(shardId: number): StreamRef[] {
        return this.db
            .prepare(
                `SELECT sd.document_id AS documentId, s.id AS streamId, s.token_count AS tokenCount
                 FROM shard_documents sd JOIN index_shards i ON i.id = sd.shard_id
                 JOIN token_streams s ON s.document_id = sd.document_id AND s.tokenizer_id = i.tokenizer_id
                 WHERE sd.shard_id = ? ORDER BY sd.ordinal`
            )
            .all(shardId) as StreamRef[];
    }

    /**
     * Joins the streams into one shard stream (each followed by a separator). Returns undefined if
     * any stream is gone or was replaced since `refs` was taken.
     */
    assembleStream(tokenizerId: string, refs: readonly StreamRef[], width: 2 | 4): TokenArray | undefined {
        let total = 0;
        for (const r of refs) total += r.tokenCount + 1;
        const out = width === 2 ? new Uint16Array(total) : new Uint32Array(total);
        const separator = separatorFor(out);
        const stmt = this.db.prepare("SELECT id, tokens FROM token_streams WHERE document_id = ? AND tokenizer_id = ?");
        let at = 0;
        for (const r of refs) {
            const row = stmt.get(r.documentId, tokenizerId) as { id: number; tokens: Buffer } | undefined;
            if (row == null || row.id !== r.streamId || row.tokens.byteLength !== r.tokenCount * width) return undefined;
            copyBlobInto(row.tokens, out, at);
            at += r.tokenCount;
            out[at++] = separator;
        }
        return out;
    }

    /**
     * Stores a built shard and drops the shards it replaces, in one transaction. Refuses (returns
     * undefined) when a stream changed while the suffix array was being sorted: the next build
     * will pick the documents up again.
     */
    save(tokenizerId: string, refs: readonly StreamRef[], suffixes: Int32Array, depth: number, replaces: readonly number[] = []): number | undefined {
        return this.db.transaction(() => {
            const check = this.db.prepare("SELECT id FROM token_streams WHERE document_id = ? AND tokenizer_id = ?");
            for (const r of refs) if ((check.get(r.documentId, tokenizerId) as { id: number } | undefined)?.id !== r.streamId) return undefined;
            const del = this.db.prepare("DELETE FROM index_shards WHERE id = ?");
            for (const id of replaces) del.run(id);
            // A document belongs to at most one shard per tokenizer: drop any other holder.
            const holders = this.db.prepare(
                "SELECT DISTINCT sd.shard_id AS id FROM shard_documents sd JOIN index_shards i ON i.id = sd.shard_id WHERE sd.document_id = ? AND i.tokenizer_id = ?"
            );
            for (const r of refs) for (const h of holders.all(r.documentId, tokenizerId) as { id: number }[]) del.run(h.id);

            const { id } = this.db
                .prepare("INSERT INTO index_shards (tokenizer_id, token_count, depth, created_at) VALUES (?, ?, ?, ?) RETURNING id")
                .get(tokenizerId, suffixes.length, depth, Date.now()) as { id: number };
            const member = this.db.prepare("INSERT INTO shard_documents (shard_id, ordinal, document_id) VALUES (?, ?, ?)");
            refs.forEach((r, i) => member.run(id, i, r.documentId));
            const chunk = this.db.prepare("INSERT INTO shard_chunks (shard_id, chunk, data) VALUES (?, ?, ?)");
            for (let c = 0, start = 0; start < suffixes.length || c === 0; c++, start += chunkEntries)
                chunk.run(id, c, encodeTokens(suffixes.subarray(start, Math.min(suffixes.length, start + chunkEntries))));
            return id;
        })();
    }

    /** Loads a shard into memory, or undefined if it is incomplete (a stream vanished under it). */
    load(record: ShardRecord, width: 2 | 4): IndexShard | undefined {
        const refs = this.streamsOf(record.id);
        const tokens = this.assembleStream(record.tokenizerId, refs, width);
        if (tokens == null || tokens.length - refs.length !== record.tokenCount) return undefined;
        const suffixes = new Int32Array(record.tokenCount);
        let at = 0;
        for (const row of this.db.prepare("SELECT data FROM shard_chunks WHERE shard_id = ? ORDER BY chunk").iterate(record.id) as Iterable<{ data: Buffer }>) {
            if (at * 4 + row.data.byteLength > suffixes.byteLength) return undefined;
            copyBlobInto(row.data, suffixes, at);
            at += row.data.byteLength / 4;
        }
        if (at !== record.tokenCount) return undefined;
        return new IndexShard(record.id, tokens, suffixes, record.depth);
    }

    remove(id: number): void {
        this.db.prepare("DELETE FROM index_shards WHERE id = ?").run(id);
    }
}
