import type { LlamaContextSequence, Token } from "node-llama-cpp";
import { createSequenceEvaluator, type SequenceEvaluator } from "../decoding/sequence-evaluator.ts";
import { commonPrefixLength } from "../decoding/verifier.ts";
import type { Drafter, Hypothesis } from "./drafter.ts";

export interface DraftModelDrafterOptions {
    /** "draft" for a separate small model, "early-exit" for one cut from the target's first layers. */
    source?: "draft" | "early-exit";
    /**
     * Stop drafting once the draft's probability of its own next token falls below this, unless the
     * decoder gives a threshold of its own (calibrated by hypothesis reduction).
     */
    minConfidence?: number;
    /** Most tokens drafted per step. */
    maxTokens?: number;
}

/**
 * Guesses with a small model of the same vocabulary in its own context. Its KV cache follows the
 * target's accepted tokens lazily: at each proposal it keeps the common prefix with the history, erases
 * its own rejected guesses and evaluates only what it has not seen. It drafts greedily and stops when
 * unsure, as llama.cpp's `--draft-p-min` does. Each drafted token is one decode and one draw on the
 * draft's own context, straight to llama.cpp (see `NativeSequenceEvaluator`).
 */
export class DraftModelDrafter implements Drafter {
    readonly source: "draft" | "early-exit";
    private readonly minConfidence: number;
    private readonly maxTokens: number;
    private readonly evaluator: SequenceEvaluator;

    constructor(private readonly sequence: LlamaContextSequence, options: DraftModelDrafterOptions = {}) {
        this.evaluator = createSequenceEvaluator(sequence);
        this.source = options.source ?? "draft";
        this.minConfidence = options.minConfidence ?? 0.3;
        this.maxTokens = options.maxTokens ?? 16;
    }

    async reset(): Promise<void> {
        // Nothing to rebuild: the next proposal keeps whatever prefix still matches.
    }

    async propose(history: readonly Token[], maxTokens: number, minConfidence = this.minConfidence): Promise<Hypothesis[]> {
        const limit = Math.min(maxTokens, this.maxTokens, this.evaluator.contextSize - history.length - 2);
        if (limit <= 0 || history.length === 0) return [];
        await this.evaluator.eraseFrom(commonPrefixLength(this.evaluator.tokens, history, history.length - 1));
        const tokens: Token[] = [];
        const confidence: number[] = [];
        let input = history.slice(this.evaluator.tokens.length);
        while (tokens.length < limit) {
            const options = input.map(() => null as typeof drawNext | null);
            options[input.length - 1] = drawNext;
            await this.evaluator.decode(input, options, 1);
            const next = await this.evaluator.draw(input.length - 1);
            if (next == null || (next.confidence ?? 0) < minConfidence) break;
            tokens.push(next.token);
            confidence.push(next.confidence!);
            input = [next.token];
        }
        return tokens.length > 0 ? [{ source: this.source, tokens, confidence }] : [];
    }

    async dispose(): Promise<void> {
        this.evaluator.dispose();
        this.sequence.dispose();
    }
}

/** The draft's greedy token and its probability, to stop drafting when it is unsure. */
const drawNext = { token: true, confidence: true } as const;
