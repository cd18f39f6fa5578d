import type { Llama, LlamaModel, Token } from "node-llama-cpp";

/**
 * Greedy continuation of `prompt` (BOS added as the model wants): `count` token ids. It does not
 * stop at end-of-generation tokens, so two models are always compared over the same length.
 */
export async function greedyTokens(model: LlamaModel, prompt: string, count: number, { threads = 1 } = {}): Promise<Token[]> {
    const input = model.tokenize(prompt);
    const context = await model.createContext({ threads, contextSize: input.length + count + 8 });
    try {
        const sequence = context.getSequence();
        const out: Token[] = [];
        if (count <= 0) return out;
        for await (const token of sequence.evaluate(input, { temperature: 0 })) {
            out.push(token);
            if (out.length >= count) break;
        }
        return out;
    } finally {
        await context.dispose();
    }
}

/**
 * The model's greedy choice after every prefix of `prompt + continuation`, i.e. what it would
 * propose at each position if the continuation were the accepted text (teacher forcing).
 */
export async function greedyChoicesAlong(model: LlamaModel, prompt: string, continuation: readonly Token[], { threads = 1 } = {}): Promise<Token[]> {
    const input = model.tokenize(prompt);
    const tokens = [...input, ...continuation];
    const context = await model.createContext({ threads, contextSize: tokens.length + 8 });
    try {
        const sequence = context.getSequence();
        const firstPredicting = input.length - 1;
        const results = await sequence.controlledEvaluate(
            // The last token predicts nothing we compare, so it is not evaluated.
            tokens.slice(0, -1).map((token, i) =>
                i >= firstPredicting ? [token, { generateNext: { token: true, options: { temperature: 0 } } }] : token
            )
        );
        const choices: Token[] = [];
        for (let i = firstPredicting; i < tokens.length - 1; i++) choices.push(results[i]?.next.token ?? (-1 as Token));
        return choices;
    } finally {
        await context.dispose();
    }
}

export interface GreedyAgreementOptions {
    llama: Llama;
    /** The model whose output counts (the heavy twin, in benchmarks the verifier). */
    target: string;
    /** The model compared with it (the small source, in benchmarks the draft). */
    candidate: string;
    prompts: readonly string[];
    /** Greedy tokens per prompt. Default 128. */
    tokens?: number;
}

export interface GreedyAgreement {
    prompts: number;
    tokensPerPrompt: number;
    /** Fraction of positions where the two free-running greedy outputs hold the same token. */
    positional: number;
    /** Mean length of the identical prefix of the two greedy outputs. */
    meanCommonPrefix: number;
    /**
     * Fraction of the target's greedy tokens that the candidate also picks when fed the target's
     * own output so far: the per-token acceptance rate of the candidate as a greedy draft.
     */
    teacherForced: number;
}

/** Compares two models' greedy decoding over `prompts` (same vocabulary assumed). */
export async function measureGreedyAgreement({ llama, target, candidate, prompts, tokens = 128 }: GreedyAgreementOptions): Promise<GreedyAgreement> {
    const targetModel = await llama.loadModel({ modelPath: target });
    const candidateModel = await llama.loadModel({ modelPath: candidate });
    try {
        let same = 0, prefix = 0, forced = 0;
        for (const prompt of prompts) {
            const a = await greedyTokens(targetModel, prompt, tokens);
            const b = await greedyTokens(candidateModel, prompt, tokens);
            same += a.filter((t, i) => t === b[i]).length;
            const firstDifference = a.findIndex((t, i) => t !== b[i]);
            prefix += firstDifference < 0 ? a.length : firstDifference;
            const choices = await greedyChoicesAlong(candidateModel, prompt, a);
            forced += choices.filter((t, i) => t === a[i]).length;
        }
        const total = prompts.length * tokens;
        return {
            prompts: prompts.length,
            tokensPerPrompt: tokens,
            positional: same / total,
            meanCommonPrefix: prefix / prompts.length,
            teacherForced: forced / total
        };
    } finally {
        await candidateModel.dispose();
        await targetModel.dispose();
    }
}
