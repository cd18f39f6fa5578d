import type { LlamaModel, Token } from "node-llama-cpp";

/**
 * Where two runs can disagree outside exact mode: llama.cpp may round a batch row differently from a
 * one-token decode (stories260K: probabilities differ by at most 8e-4), so the target's top token can
 * only change where its top two probabilities are closer than twice that. The tests hold every
 * divergence from plain greedy output to this bound.
 */
export const nearTieBound = 2e-3;

/**
 * The plain run's top-two probability margin at each output position, on plain decoding's own numeric
 * path: the prompt as one batch, then one token per decode.
 */
export async function plainMargins(model: LlamaModel, prompt: readonly Token[], output: readonly Token[], threads: number): Promise<number[]> {
    const context = await model.createContext({ contextSize: prompt.length + output.length + 8, threads, sequences: 1 });
    try {
        const sequence = context.getSequence();
        const margins: number[] = [];
        const probe = { generateNext: { probabilities: true } } as const;
        let input: Token[] = [...prompt];
        for (let i = 0; i < output.length; i++) {
            const out = await sequence.controlledEvaluate(input.map((t, j) => (j === input.length - 1 ? [t, probe] : t)));
            const probabilities = [...(out.at(-1)?.next.probabilities?.values() ?? [])].sort((a, b) => b - a);
            margins.push((probabilities[0] ?? 0) - (probabilities[1] ?? 0));
            input = [output[i]!];
        }
        return margins;
    } finally {
        await context.dispose();
    }
}

/** The first position where two token lists differ, or -1. */
export function firstDivergence(a: readonly Token[], b: readonly Token[]): number {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
    return a.length === b.length ? -1 : n;
}
