import type { LlamaModel } from "node-llama-cpp";

/** The vocabulary of a model as its GGUF file declares it. */
export interface Vocabulary {
    model: string;
    tokens: readonly string[];
    tokenTypes: readonly number[];
    bos: number | null;
    eos: number | null;
}

export function readVocabulary(model: LlamaModel): Vocabulary {
    const ggml = (model.fileInfo.metadata as { tokenizer?: { ggml?: Record<string, unknown> } }).tokenizer?.ggml ?? {};
    return {
        model: String(ggml.model ?? ""),
        tokens: (ggml.tokens as string[] | undefined) ?? [],
        tokenTypes: (ggml.token_type as number[] | undefined) ?? [],
        bos: model.tokens.bos,
        eos: model.tokens.eos
    };
}

/** Why `draft` cannot draft for `target`, or null when their vocabularies are the same. */
export function vocabularyMismatch(target: LlamaModel, draft: LlamaModel): string | null {
    const a = readVocabulary(target);
    const b = readVocabulary(draft);
    if (a.tokens.length !== b.tokens.length)
        return `the target has ${a.tokens.length} tokens and the draft ${b.tokens.length}`;
    if (a.model !== b.model) return `the target uses a "${a.model}" tokenizer and the draft a "${b.model}" one`;
    if (a.bos !== b.bos || a.eos !== b.eos) return `their BOS/EOS tokens differ (${a.bos}/${a.eos} vs ${b.bos}/${b.eos})`;
    for (let i = 0; i < a.tokens.length; i++)
        if (a.tokens[i] !== b.tokens[i] || (a.tokenTypes[i] ?? 0) !== (b.tokenTypes[i] ?? 0))
            return `token ${i} is ${JSON.stringify(a.tokens[i])} in the target and ${JSON.stringify(b.tokens[i])} in the draft`;
    return null;
}
