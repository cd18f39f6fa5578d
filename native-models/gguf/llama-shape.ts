import { GgufFormatError } from "./gguf-error.ts";
import { metadataArray, metadataNumber, metadataString } from "./gguf-metadata.ts";
import type { GgufFile } from "./gguf-reader.ts";

/** The hyperparameters of a Llama-style decoder, read from `<arch>.*` metadata keys. */
export interface LlamaShape {
    architecture: string;
    blockCount: number;
    embeddingLength: number;
    feedForwardLength: number;
    headCount: number;
    headCountKv: number;
    /** Width of one attention head's keys and queries (`key_length`, else embedding / heads). */
    keyLength: number;
    /** Width of one attention head's values. */
    valueLength: number;
    contextLength: number;
    rmsEpsilon: number;
    vocabularySize: number;
    /** True when there is no `output.weight` and the output head reuses `token_embd.weight`. */
    tiedEmbeddings: boolean;
}

/** The `general.architecture` of a file, or a `GgufFormatError`. */
export function requireArchitecture(file: GgufFile): string {
    const architecture = metadataString(file.metadata, "general.architecture");
    if (architecture == null) throw new GgufFormatError(file.path, "has no general.architecture, so it is not a model llama.cpp can load");
    return architecture;
}

/** The block (layer) count of any architecture, or a `GgufFormatError`. */
export function requireBlockCount(file: GgufFile): number {
    const architecture = requireArchitecture(file);
    const blocks = metadataNumber(file.metadata, `${architecture}.block_count`);
    if (blocks == null || !Number.isInteger(blocks) || blocks < 1)
        throw new GgufFormatError(file.path, `has no valid ${architecture}.block_count`);
    return blocks;
}

/**
 * Reads a Llama-architecture model's shape. Per-layer values (arrays, as some architectures store
 * head counts) and missing keys are a `GgufFormatError`: the transforms here need one shape for all blocks.
 */
export function readLlamaShape(file: GgufFile): LlamaShape {
    const architecture = requireArchitecture(file);
    const key = (name: string) => `${architecture}.${name}`;
    const number = (name: string, fallback?: number): number => {
        if (metadataArray(file.metadata, key(name)) != null)
            throw new GgufFormatError(file.path, `has per-layer values in ${key(name)}, which this transform does not support`);
        const value = metadataNumber(file.metadata, key(name)) ?? fallback;
        if (value == null) throw new GgufFormatError(file.path, `has no ${key(name)}`);
        return value;
    };
    const embeddingLength = number("embedding_length");
    const headCount = number("attention.head_count");
    const keyLength = number("attention.key_length", embeddingLength / headCount);
    const tokens = metadataArray(file.metadata, "tokenizer.ggml.tokens");
    const embedding = file.tensors.find((t) => t.name === "token_embd.weight");
    return {
        architecture,
        blockCount: requireBlockCount(file),
        embeddingLength,
        feedForwardLength: number("feed_forward_length"),
        headCount,
        headCountKv: number("attention.head_count_kv", headCount),
        keyLength,
        valueLength: number("attention.value_length", keyLength),
        contextLength: number("context_length"),
        rmsEpsilon: number("attention.layer_norm_rms_epsilon", 1e-5),
        vocabularySize: tokens?.length ?? embedding?.shape[1] ?? 0,
        tiedEmbeddings: !file.tensors.some((t) => t.name === "output.weight")
    };
}
