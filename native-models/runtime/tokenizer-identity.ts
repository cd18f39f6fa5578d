import { createHash } from "node:crypto";
import type { LlamaModel } from "node-llama-cpp";

/**
 * Which tokenizer a model uses. The datastore keeps token streams per `id`; it states what it needs
 * of this as its own structural type (datastore/tokenizers.ts), which this one satisfies.
 */
export interface TokenizerIdentity {
    /** sha256 (hex) over everything that decides how text becomes tokens. */
    id: string;
    vocabSize: number;
    /** Human-readable hint: the model's file name. */
    label: string;
}

/** A loaded model's tokenizer: its identity and how it turns text into tokens (no BOS). */
export interface ModelTokenizer {
    identity: TokenizerIdentity;
    tokenize(text: string): number[];
}

/** The tokenizer of a loaded model (full or vocabulary-only). */
export function modelTokenizer(model: LlamaModel): ModelTokenizer {
    return { identity: tokenizerIdentity(model), tokenize: (text) => model.tokenize(text, false) };
}

/**
 * Names a model's tokenizer by hashing its vocabulary (each token's text and type), the scores or
 * merges that decide segmentation, the pre-tokenizer, the space-prefix flag and the special token
 * ids. Two models get the same id exactly when their token streams are interchangeable, e.g. a
 * target and a draft derived from it.
 *
 * Works on a vocabulary-only load.
 */
export function tokenizerIdentity(model: LlamaModel): TokenizerIdentity {
    const ggml = model.fileInfo.metadata?.tokenizer?.ggml;
    const hash = createHash("sha256");
    const field = (name: string, value: unknown) => hash.update(`${name}=${value == null ? "" : String(value)}\n`);
    const special = model.tokens;
    field("bos", special.bos);
    field("eos", special.eos);
    field("eot", special.eot);
    field("sep", special.sep);
    field("nl", special.nl);
    let vocabSize: number;
    if (ggml?.tokens != null && ggml.tokens.length > 0) {
        vocabSize = ggml.tokens.length;
        field("model", ggml.model);
        field("pre", ggml.pre);
        field("add_space_prefix", ggml.add_space_prefix);
        field("add_bos", ggml.add_bos_token);
        for (let i = 0; i < ggml.tokens.length; i++) {
            hash.update(ggml.tokens[i]);
            hash.update(`\u0000${ggml.token_type?.[i] ?? ""}\u0000`);
        }
        if (ggml.scores != null) hash.update(new Uint8Array(Float32Array.from(ggml.scores).buffer));
        if (ggml.merges != null) for (const m of ggml.merges) hash.update(`${m}\u0000`);
    } else {
        // No vocabulary in the metadata (should not happen for GGUF): ask llama.cpp for each token.
        vocabSize = 0;
        for (const token of model.iterateAllTokens()) {
            hash.update(`${model.detokenize([token], true)}\u0000`);
            vocabSize++;
        }
        if (vocabSize === 0) throw new Error(`${model.filename ?? "The model"} has no vocabulary, so its tokens cannot be indexed.`);
    }
    field("vocab", vocabSize);
    return { id: hash.digest("hex"), vocabSize, label: model.filename ?? "" };
}
