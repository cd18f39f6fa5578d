import type { Database } from "better-sqlite3";
import type { TokenArray } from "../index/suffix-array.ts";
import { decodeTokens, encodeTokens } from "../token-codec.ts";

/**
 * The `message_tokens` table: assistant answers tokenized per tokenizer, so opening the history
 * index does not tokenize every past answer again.
 */
export class MessageTokenStore {
    constructor(private readonly db: Database) {}

    /** Stored tokens of the given messages for a tokenizer (messages without any are absent). */
    load(tokenizerId: string, width: 2 | 4): Map<number, TokenArray> {
        const out = new Map<number, TokenArray>();
        const rows = this.db.prepare("SELECT message_id, tokens FROM message_tokens WHERE tokenizer_id = ?").iterate(tokenizerId) as Iterable<{
            message_id: number;
            tokens: Buffer;
        }>;
        for (const r of rows) out.set(r.message_id, decodeTokens(r.tokens, width));
        return out;
    }

    save(messageId: number, tokenizerId: string, tokens: TokenArray): void {
        this.db
            .prepare("INSERT INTO message_tokens (message_id, tokenizer_id, tokens) VALUES (?, ?, ?) ON CONFLICT DO UPDATE SET tokens = excluded.tokens")
            .run(messageId, tokenizerId, encodeTokens(tokens));
    }
}
