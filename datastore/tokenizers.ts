import type { Database } from "better-sqlite3";
import { tokenWidthFor } from "./index/suffix-array.ts";

/**
 * What the store needs to know of a tokenizer. The store names no model runtime: the app hands it
 * one (native-models' `tokenizerIdentity(model)` returns a value of this shape).
 */
export interface TokenizerIdentity {
    /** Equal exactly when two tokenizers turn text into the same tokens (a hash of the vocabulary). */
    id: string;
    vocabSize: number;
    /** A human-readable hint (the model file). */
    label?: string;
}

/** A tokenizer the store can index text with (history answers, documents in ingestion workers). */
export interface Tokenizer {
    identity: TokenizerIdentity;
    /** Text to token ids, without BOS. */
    tokenize(text: string): ArrayLike<number>;
}

/** A tokenizer known to the store: streams and shards are kept per tokenizer. */
export interface TokenizerRecord {
    /** Hash of the vocabulary (`TokenizerIdentity.id`). */
    id: string;
    vocabSize: number;
    /** Bytes per stored token: 2 for vocabularies up to 65,535 tokens, else 4. */
    tokenWidth: 2 | 4;
    /** A human-readable hint (the model file it was first seen with). */
    label: string | null;
    createdAt: number;
}

interface TokenizerRow {
    id: string;
    vocab_size: number;
    token_width: 2 | 4;
    label: string | null;
    created_at: number;
}

const toRecord = (r: TokenizerRow): TokenizerRecord => ({ id: r.id, vocabSize: r.vocab_size, tokenWidth: r.token_width, label: r.label, createdAt: r.created_at });

/** The `tokenizers` table. */
export class TokenizerStore {
    constructor(private readonly db: Database) {}

    /** Registers a tokenizer (or returns the one already there); its token width follows from the vocabulary's size. */
    ensure(t: TokenizerIdentity): TokenizerRecord {
        this.db
            .prepare("INSERT INTO tokenizers (id, vocab_size, token_width, label, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING")
            .run(t.id, t.vocabSize, tokenWidthFor(t.vocabSize), t.label ?? null, Date.now());
        return this.get(t.id)!;
    }

    get(id: string): TokenizerRecord | undefined {
        const row = this.db.prepare("SELECT * FROM tokenizers WHERE id = ?").get(id) as TokenizerRow | undefined;
        return row && toRecord(row);
    }

    list(): TokenizerRecord[] {
        return (this.db.prepare("SELECT * FROM tokenizers ORDER BY created_at").all() as TokenizerRow[]).map(toRecord);
    }

    /** Drops a tokenizer with all its streams and shards (the text stays, so it can be rebuilt). */
    remove(id: string): boolean {
        return this.db.prepare("DELETE FROM tokenizers WHERE id = ?").run(id).changes > 0;
    }
}
