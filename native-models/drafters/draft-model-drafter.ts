import type { LlamaContextSequence, Token } from "node-llama-cpp";
import { commonPrefixLength } from "../decoding/verifier.ts";
import type { Drafter, Hypothesis } from "./drafter.ts";

export interface DraftModelDrafterOptions {
    /** "draft" for a separate small model, "early-exit" for one cut from the target's first layers. */
    source?: "draft" | "early-exit";
    /** Stop drafting once the draft's probability of its own next token falls below this. */
    minConfidence?: number;
    /** Most tokens drafted per step. */
    maxTokens?: number;
}

/**
 * Guesses with a small model of the same vocabulary in its own context. Its KV cache follows the
 * target's accepted tokens lazily: at each proposal it keeps the common prefix with the history, erases
 * its own rejected guesses and evaluates only what it has not seen. It drafts greedily and stops when
 * unsure, as llama.cpp's `--draft-p-min` does.
 */
export class DraftModelDrafter implements Drafter {
    readonly source: "draft" | "early-exit";
    private readonly minConfidence: number;
    private readonly maxTokens: number;
    private evaluated: Token[] = [];

    constructor(private readonly sequence: LlamaContextSequence, options: DraftModelDrafterOptions = {}) {
        this.source = options.source ?? "draft";
        this.minConfidence = options.minConfidence ?? 0.3;
        this.maxTokens = options.maxTokens ?? 16;
    }

    async reset(): Promise<void> {
        // Nothing to rebuild: the next proposal keeps whatever prefix still matches.
    }

    observe(): void {}

    async propose(history: readonly Token[], maxTokens: number): Promise<Hypothesis[]> {
        const limit = Math.min(maxTokens, this.maxTokens, this.sequence.contextSize - history.length - 2);
        if (limit <= 0 || history.length === 0) return [];
        const keep = commonPrefixLength(this.evaluated, history, history.length - 1);
        if (keep < this.evaluated.length) {
            await this.sequence.eraseContextTokenRanges([{ start: keep, end: this.sequence.nextTokenIndex }]);
            this.evaluated.length = keep;
        }
        const tokens: Token[] = [];
        const confidence: number[] = [];
        let input = history.slice(keep);
        while (tokens.length < limit) {
            const last = input.length - 1;
            const out = await this.sequence.controlledEvaluate(input.map((t, i) =>
                i === last ? [t, { generateNext: { token: true, confidence: true } }] : t));
            this.evaluated.push(...input);
            const next = out[last]?.next;
            if (next?.token == null || (next.confidence ?? 0) < this.minConfidence) break;
            tokens.push(next.token);
            confidence.push(next.confidence!);
            input = [next.token];
        }
        return tokens.length > 0 ? [{ source: this.source, tokens, confidence }] : [];
    }

    async dispose(): Promise<void> {
        this.sequence.dispose();
    }
}
