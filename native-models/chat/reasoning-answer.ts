import type { LlamaModel, Token } from "node-llama-cpp";
import type { StepEvent } from "../decoding/stats.ts";
import type { GenerateResult } from "../engine/presage-engine.ts";
import type { ReasoningPart, ReasoningSplitter } from "./reasoning.ts";

/**
 * One answer's reasoning, split off as it streams: each step's text becomes its answer part (`text`)
 * and its reasoning part (`reasoning`), and the finished answer says how long the reasoning was in
 * tokens and time. The decoding loop is untouched: this reads its output only.
 */
export class ReasoningAnswer {
    private firstStepAt: number | null = null;
    private closedAt: number | null = null;
    /** Output characters the steps carried, so `finish` feeds only what they did not. */
    private streamed = 0;

    constructor(private readonly splitter: ReasoningSplitter) {}

    /** Wraps the caller's step callback so that each step carries its parts apart. */
    onStep(forward: ((event: StepEvent) => void) | undefined): (event: StepEvent) => void {
        return (event) => {
            const now = performance.now();
            this.firstStepAt ??= now;
            this.streamed += event.text.length;
            const wasReasoning = this.splitter.inReasoning;
            const { reasoning, answer } = this.splitter.push(event.text);
            if (this.closedAt == null && this.splitter.closedAt >= 0) this.closedAt = now;
            if (forward == null) return;
            const split: StepEvent = { ...event, text: answer };
            if (reasoning !== "" || wasReasoning || this.splitter.inReasoning) split.reasoning = reasoning;
            // Token pieces add up to the step's whole text; once part of it is reasoning they no longer do.
            if (answer !== event.text) delete split.pieces;
            forward(split);
        };
    }

    /** The answer apart from its reasoning, once the engine has finished. */
    finish(model: LlamaModel, result: GenerateResult): { text: string; reasoning: ReasoningPart | null; delta: { reasoning: string; answer: string } } {
        // The step texts may stop short of the final text (held back for a stop string): feed the rest.
        const delta = this.splitter.push(result.text.slice(this.streamed));
        const last = this.splitter.finish();
        delta.reasoning += last.reasoning;
        delta.answer += last.answer;
        if (!this.splitter.hadReasoning) return { text: this.splitter.answer, reasoning: null, delta };
        const ended = this.splitter.closedAt >= 0;
        const tokens = ended ? tokensUpTo(model, result.tokens, this.splitter.closedAt) : result.tokens.length;
        const end = this.closedAt ?? performance.now();
        return {
            text: this.splitter.answer,
            reasoning: { text: this.splitter.reasoning, tokens, ms: this.firstStepAt == null ? 0 : Math.max(0, end - this.firstStepAt), ended },
            delta
        };
    }

}

/** The fewest leading tokens of `tokens` whose text is at least `chars` long. */
function tokensUpTo(model: LlamaModel, tokens: readonly Token[], chars: number): number {
    let lo = 0, hi = tokens.length;
    while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (model.detokenize(tokens.slice(0, mid) as Token[]).length >= chars) hi = mid;
        else lo = mid + 1;
    }
    return lo;
}
