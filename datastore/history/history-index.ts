import type { Datastore } from "../datastore.ts";
import { IndexShard } from "../index/index-shard.ts";
import { separatorFor, type TokenArray } from "../index/suffix-array.ts";
import { SuffixLookup, type LookupOptions, type LookupResult } from "../index/suffix-lookup.ts";
import { toTokenArray } from "../token-codec.ts";
import type { Tokenizer } from "../tokenizers.ts";
import { MessageTokenStore } from "./message-token-store.ts";

export interface HistoryIndexOptions {
    datastore: Datastore;
    /** The model's tokenizer, handed in by the app. */
    tokenizer: Tokenizer;
}

interface Level {
    docs: TokenArray[];
    shard: IndexShard;
}

/**
 * Past assistant answers, searchable like the documents' index but held only in memory: history
 * is small, and answers arrive one at a time while chatting.
 *
 * New answers (the datastore's `message-added` events) become small shards that merge with their
 * neighbours when sizes get close, like an LSM tree: each answer costs a sort of its own tokens,
 * merges cost O(n log n) overall, and there are only about log2(n) shards to search.
 * Deleting conversations rebuilds from the store. With the `history.enabled` setting off the
 * index holds nothing and finds nothing.
 */
export class HistoryIndex {
    readonly lookup = new SuffixLookup();
    private levels: Level[] = [];
    private nextShardId = 1;
    private enabledNow: boolean;
    private readonly tokens: MessageTokenStore;
    private readonly tokenizerId: string;
    private readonly tokenWidth: 2 | 4;
    private readonly onMessage = (m: { id: number; role: string; content: string }) => {
        if (m.role === "assistant" && this.enabledNow) this.add(m.id, m.content);
    };
    private readonly onRemoved = () => this.rebuild();
    private readonly onSetting = (key: string) => {
        if (key !== "history.enabled") return;
        const enabled = this.datastore.settings.get("history.enabled");
        if (enabled === this.enabledNow) return;
        this.enabledNow = enabled;
        this.rebuild();
    };

    private constructor(
        private readonly datastore: Datastore,
        private readonly tokenizer: Tokenizer
    ) {
        this.tokens = new MessageTokenStore(datastore.db);
        const record = datastore.tokenizers.ensure(tokenizer.identity);
        this.tokenizerId = record.id;
        this.tokenWidth = record.tokenWidth;
        this.enabledNow = datastore.settings.get("history.enabled");
        datastore.events.on("message-added", this.onMessage);
        datastore.events.on("messages-removed", this.onRemoved);
        datastore.events.on("setting-changed", this.onSetting);
    }

    /** Loads (tokenizing and caching what is not cached yet) every past answer. */
    static open(options: HistoryIndexOptions): HistoryIndex {
        const index = new HistoryIndex(options.datastore, options.tokenizer);
        index.rebuild();
        return index;
    }

    /** Whether history drafting is on (the `history.enabled` setting). */
    get enabled(): boolean {
        return this.enabledNow;
    }

    /** Tokens searchable now. */
    get tokenCount(): number {
        return this.lookup.size;
    }

    get shardCount(): number {
        return this.levels.length;
    }

    /** Longest-suffix-match continuations of `context` in past answers; null when off or nothing matches. */
    find(context: ArrayLike<number>, options?: LookupOptions): LookupResult | null {
        return this.enabledNow ? this.lookup.lookup(context, options) : null;
    }

    /** Reloads everything from the store (after deletions, or when the setting changes). */
    rebuild(): void {
        this.levels = [];
        if (this.enabledNow && this.datastore.isOpen) {
            const { tokenizerId, tokenWidth } = this;
            const cached = this.tokens.load(tokenizerId, tokenWidth);
            const docs: TokenArray[] = [];
            for (const m of this.datastore.conversations.assistantMessages()) {
                let t = cached.get(m.id);
                if (t == null) {
                    t = toTokenArray(this.tokenizer.tokenize(m.content), tokenWidth);
                    this.tokens.save(m.id, tokenizerId, t);
                }
                if (t.length > 0) docs.push(t);
            }
            if (docs.length > 0) this.levels.push(this.level(docs));
        }
        this.publish();
    }

    /** Adds one answer (the event handler calls this; exposed for callers that bypass the store). */
    add(messageId: number, content: string): void {
        const { tokenizerId, tokenWidth } = this;
        const t = toTokenArray(this.tokenizer.tokenize(content), tokenWidth);
        if (this.datastore.isOpen) this.tokens.save(messageId, tokenizerId, t);
        if (t.length === 0) return;
        this.levels.push(this.level([t]));
        // Merge while the newest shard is at least half the size of the one before it.
        while (this.levels.length >= 2) {
            const b = this.levels[this.levels.length - 1];
            const a = this.levels[this.levels.length - 2];
            if (a.shard.size > 2 * b.shard.size) break;
            this.levels.splice(this.levels.length - 2, 2, this.level([...a.docs, ...b.docs]));
        }
        this.publish();
    }

    /** Stops following the store. */
    close(): void {
        this.datastore.events.off("message-added", this.onMessage);
        this.datastore.events.off("messages-removed", this.onRemoved);
        this.datastore.events.off("setting-changed", this.onSetting);
        this.levels = [];
        this.publish();
    }

    private level(docs: TokenArray[]): Level {
        const width = this.tokenWidth;
        let total = 0;
        for (const d of docs) total += d.length + 1;
        const stream = width === 2 ? new Uint16Array(total) : new Uint32Array(total);
        const separator = separatorFor(stream);
        let at = 0;
        for (const d of docs) {
            stream.set(d, at);
            at += d.length;
            stream[at++] = separator;
        }
        return { docs, shard: IndexShard.build(this.nextShardId++, stream) };
    }

    private publish(): void {
        this.lookup.setShards(this.levels.map((l) => l.shard));
    }
}
