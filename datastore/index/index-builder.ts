import type { Datastore } from "../datastore.ts";
import type { TokenizerRecord } from "../tokenizers.ts";
import type { ShardRecord, StreamRef } from "./shard-store.ts";
import { buildSuffixArray, type TokenArray } from "./suffix-array.ts";

/** Sorts a shard stream's suffixes: in a worker for ingestion, inline for tests and small jobs. */
export type SuffixSorter = (tokens: TokenArray, depth: number) => Promise<Int32Array>;

/** Sorting on the calling thread. */
export const inlineSorter: SuffixSorter = async (tokens, depth) => buildSuffixArray(tokens, { depth });

export interface IndexBuildOptions {
    sorter?: SuffixSorter;
    /** Suffix order depth = longest span + longest continuation a lookup may use (default 32). */
    depth?: number;
    signal?: AbortSignal;
    /** Shards sorted at the same time (default 1; the ingestor uses one per worker). */
    concurrency?: number;
    /**
     * Build only shards that reach `index.shardTokens`, leave the rest unsharded and merge nothing:
     * what ingestion does while still reading, so sorting overlaps tokenizing.
     */
    fullShardsOnly?: boolean;
    /** Called after each shard is stored. */
    onShard?: (info: { shardId: number; tokens: number }) => void;
}

export interface IndexBuildResult {
    shardsBuilt: number;
    shardsReplaced: number;
    tokensSorted: number;
}

interface Plan {
    refs: StreamRef[];
    replaces: number[];
    tokens: number;
}

/**
 * Keeps a tokenizer's shards covering all its token streams. New streams are packed into new
 * shards of up to `index.shardTokens` tokens; when there are more than `index.maxShards` shards,
 * the smallest are merged (like an LSM tree), so a trickle of small additions neither re-sorts
 * everything nor leaves lookups searching hundreds of tiny shards.
 *
 * Each shard is written in its own transaction: killed half way, the store keeps the shards that
 * were finished and the next build carries on with the rest.
 */
export class IndexBuilder {
    constructor(
        private readonly datastore: Datastore,
        private readonly tokenizer: TokenizerRecord
    ) {}

    /** What a build would do now, without doing it. */
    plan(options: { fullShardsOnly?: boolean } = {}): Plan[] {
        const { shards, settings } = this.datastore;
        const shardTokens = Math.max(1, settings.get("index.shardTokens"));
        const maxShards = Math.max(1, settings.get("index.maxShards"));
        const plans: Plan[] = [];
        let current: Plan | undefined;
        for (const ref of shards.unsharded(this.tokenizer.id)) {
            if (current == null || (current.tokens > 0 && current.tokens + ref.tokenCount > shardTokens)) {
                current = { refs: [], replaces: [], tokens: 0 };
                plans.push(current);
            }
            current.refs.push(ref);
            current.tokens += ref.tokenCount;
        }
        if (options.fullShardsOnly) return plans.filter((p) => p.tokens >= shardTokens);
        // Merge the two smallest pieces (planned or stored) while there are too many and they fit.
        type Piece = { plan?: Plan; shard?: ShardRecord; tokens: number };
        const pieces: Piece[] = [...plans.map((p) => ({ plan: p, tokens: p.tokens })), ...shards.list(this.tokenizer.id).map((s) => ({ shard: s, tokens: s.tokenCount }))];
        while (pieces.length > maxShards) {
            pieces.sort((a, b) => a.tokens - b.tokens);
            const [a, b] = pieces;
            if (a.tokens + b.tokens > shardTokens) break;
            const merged: Plan = { refs: [], replaces: [], tokens: 0 };
            for (const p of [a, b]) {
                if (p.plan != null) {
                    merged.refs.push(...p.plan.refs);
                    merged.replaces.push(...p.plan.replaces);
                } else if (p.shard != null) {
                    merged.refs.push(...shards.streamsOf(p.shard.id));
                    merged.replaces.push(p.shard.id);
                }
                merged.tokens += p.tokens;
            }
            pieces.splice(0, 2, { plan: merged, tokens: merged.tokens });
        }
        return pieces.filter((p) => p.plan != null).map((p) => p.plan!);
    }

    /** Builds and stores every planned shard. Emits `index-changed` on the datastore after each. */
    async build(options: IndexBuildOptions = {}): Promise<IndexBuildResult> {
        const { sorter = inlineSorter, depth = 32, signal } = options;
        const result: IndexBuildResult = { shardsBuilt: 0, shardsReplaced: 0, tokensSorted: 0 };
        const { shards, events } = this.datastore;
        const plans = this.plan({ fullShardsOnly: options.fullShardsOnly });
        let next = 0;
        const lane = async () => {
            while (next < plans.length) {
                const plan = plans[next++];
                signal?.throwIfAborted();
                if (!this.datastore.isOpen) return;
                const stream = shards.assembleStream(this.tokenizer.id, plan.refs, this.tokenizer.tokenWidth);
                if (stream == null) continue; // a document changed meanwhile; the next build sees its new stream
                const suffixes = await sorter(stream, depth);
                signal?.throwIfAborted();
                if (!this.datastore.isOpen) return;
                const id = shards.save(this.tokenizer.id, plan.refs, suffixes, depth, plan.replaces);
                if (id == null) continue;
                result.shardsBuilt++;
                result.shardsReplaced += plan.replaces.length;
                result.tokensSorted += suffixes.length;
                options.onShard?.({ shardId: id, tokens: suffixes.length });
                events.emit("index-changed", this.tokenizer.id);
            }
        };
        await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 1) }, lane));
        return result;
    }
}
