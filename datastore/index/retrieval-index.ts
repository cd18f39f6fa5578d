import type { Datastore } from "../datastore.ts";
import type { IndexShard } from "./index-shard.ts";
import { SuffixLookup, type LookupOptions, type LookupResult } from "./suffix-lookup.ts";

export interface RetrievalIndexOptions {
    /** Reload when this process's ingestion changes the index (default true). */
    follow?: boolean;
}

/**
 * The documents' retrieval index for one tokenizer, held in memory: every stored shard's stream and
 * suffix array, loaded from SQLite once, so a lookup never touches the database.
 *
 * It follows `index-changed` events of its datastore (ingestion in this process); after an index
 * built by another process, call `refresh()`.
 */
export class RetrievalIndex {
    readonly lookup = new SuffixLookup();
    private readonly onChange = (tokenizerId: string) => {
        if (tokenizerId === this.tokenizerId) this.refresh();
    };

    private constructor(
        private readonly datastore: Datastore,
        readonly tokenizerId: string,
        private readonly follow: boolean
    ) {
        if (follow) datastore.events.on("index-changed", this.onChange);
    }

    /** Loads the stored shards of this tokenizer (none yet is fine: lookups then find nothing). */
    static open(datastore: Datastore, tokenizerId: string, options: RetrievalIndexOptions = {}): RetrievalIndex {
        const index = new RetrievalIndex(datastore, tokenizerId, options.follow ?? true);
        index.refresh();
        return index;
    }

    /** Real tokens searchable now. */
    get tokenCount(): number {
        return this.lookup.size;
    }

    get shardCount(): number {
        return this.lookup.shards.length;
    }

    /**
     * Brings the in-memory shards in line with the store: loads new ones, drops removed ones.
     * Shards that did not change are kept as they are (no reload).
     */
    refresh(): { added: number; removed: number } {
        if (!this.datastore.isOpen) return { added: 0, removed: 0 };
        const tokenizer = this.datastore.tokenizers.get(this.tokenizerId);
        const stored = tokenizer == null ? [] : this.datastore.shards.list(this.tokenizerId);
        const wanted = new Set(stored.map((s) => s.id));
        const kept = this.lookup.shards.filter((s) => wanted.has(s.id));
        const have = new Set(kept.map((s) => s.id));
        const next: IndexShard[] = [...kept];
        let added = 0;
        for (const record of stored) {
            if (have.has(record.id)) continue;
            const shard = this.datastore.shards.load(record, tokenizer!.tokenWidth);
            if (shard != null) {
                next.push(shard);
                added++;
            }
        }
        const removed = this.lookup.shards.length - kept.length;
        this.lookup.setShards(next);
        return { added, removed };
    }

    /** Longest-suffix-match continuations of `context` (see `SuffixLookup.lookup`). */
    find(context: ArrayLike<number>, options?: LookupOptions): LookupResult | null {
        return this.lookup.lookup(context, options);
    }

    /** Stops following the datastore's events and drops the shards. */
    close(): void {
        if (this.follow) this.datastore.events.off("index-changed", this.onChange);
        this.lookup.setShards([]);
    }
}
