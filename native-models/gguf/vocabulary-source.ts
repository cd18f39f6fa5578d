import { GgufFormatError } from "./gguf-error.ts";
import { metadataArray, type GgufMetadata } from "./gguf-metadata.ts";
import { readGgufFile } from "./gguf-reader.ts";

/** A model file's whole tokenizer, ready to be written into another model. */
export interface VocabularySource {
    path: string;
    /** Every `tokenizer.*` key of the file, in its order: tokens, scores or merges, token types,
     * pre-tokenizer, special and end-of-generation ids, add_bos/add_eos, chat templates. */
    metadata: GgufMetadata;
    tokenCount: number;
    /** `tokenizer.ggml.token_type`, one per token (empty when the file has none). */
    tokenTypes: readonly number[];
}

/**
 * Reads the tokenizer of a GGUF file (a vocabulary-only file such as llama.cpp's
 * `models/ggml-vocab-qwen2.gguf`, or any model). Copying every `tokenizer.*` key rather than a chosen
 * few is what makes a synthesized model tokenize, template and stop exactly as the original: llama.cpp
 * reads ids such as `eot_token_id` or `eom_token_id` and flags such as `add_space_prefix` only when present.
 * A file without tokens is a one-line `GgufFormatError`.
 */
export async function readVocabularySource(path: string): Promise<VocabularySource> {
    const file = await readGgufFile(path);
    const tokens = metadataArray(file.metadata, "tokenizer.ggml.tokens");
    if (tokens == null || tokens.length === 0)
        throw new GgufFormatError(path, "has no tokenizer.ggml.tokens, so there is no vocabulary to take from it");
    const metadata: GgufMetadata = {};
    for (const [key, entry] of Object.entries(file.metadata)) if (key.startsWith("tokenizer.")) metadata[key] = entry;
    const types = metadataArray(file.metadata, "tokenizer.ggml.token_type");
    return { path, metadata, tokenCount: tokens.length, tokenTypes: (types as number[] | undefined) ?? [] };
}
