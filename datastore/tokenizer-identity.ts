import { createHash } from "node:crypto";
import type { LlamaModel } from "node-llama-cpp";
import { tokenWidthFor } from "./index/suffix-array.ts";

/** Which tokenizer a model uses, as the datastore names it. */
export interface TokenizerIdentity {
    /** sha256 (hex) over everything that decides how text becomes tokens. */
    id: string;
    vocabSize: number;
    /** 2 when every id fits 16 bits with room for the separator, else 4. */
    tokenWidth: 2 | 4;
    /** Human-readable hint: the model's file name. */
    label: string;
}

/**
 * Names a model's tokenizer by hashing its vocabulary (each token's text and type), the scores or
 * merges that decide segmentation, the pre-tokenizer, the space-prefix flag and the special token
 * ids. Two models get the same id exactly when their token streams are interchangeable, e.g. a
 * target and a draft derived from it; the datastore keeps token streams per id.
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
    return { id: hash.digest("hex"), vocabSize, tokenWidth: tokenWidthFor(vocabSize), label: model.filename ?? "" };
}
