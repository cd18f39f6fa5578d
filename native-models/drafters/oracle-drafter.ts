import type { Token } from "node-llama-cpp";
import type { Drafter, Hypothesis } from "./drafter.ts";

/**
 * Replays a known output (a previous plain run of the same prompt). Every guess is right as long as the
 * output so far matches, so the benchmark uses it to show the ceiling of the verification loop itself.
 */
export class OracleDrafter implements Drafter {
    readonly source = "oracle" as const;
    private promptLength = 0;

    /** `expected`: the full expected output tokens; `guesses`: fixed chain length, for a clean ceiling. */
    constructor(private readonly expected: readonly Token[], private readonly guesses = 8) {}

    reset(history: readonly Token[]): void {
        // The history at reset holds the prompt and the first output token.
        this.promptLength = history.length - 1;
    }

    propose(history: readonly Token[], maxTokens: number): Hypothesis[] {
        const done = history.length - this.promptLength;
        for (let i = 0; i < done; i++) if (history[this.promptLength + i] !== this.expected[i]) return [];
        const tokens = this.expected.slice(done, done + Math.min(maxTokens, this.guesses));
        return tokens.length > 0 ? [{ source: this.source, tokens, confidence: tokens.map(() => 0.98) }] : [];
    }

    dispose(): void {}
}
