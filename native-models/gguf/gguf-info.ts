import { metadataArray, metadataNumber, metadataString } from "./gguf-metadata.ts";
import { readGgufFile } from "./gguf-reader.ts";

/** What `presage gguf info` shows about a model file. Absent values are keys the file does not have. */
export interface GgufModelSummary {
    path: string;
    fileSize: number;
    ggufVersion: number;
    architecture?: string;
    name?: string;
    layers?: number;
    embeddingLength?: number;
    feedForwardLength?: number;
    headCount?: number;
    headCountKv?: number;
    contextLength?: number;
    vocabularySize?: number;
    tokenizer?: string;
    hasChatTemplate: boolean;
    tensorCount: number;
    parameterCount: number;
    /** How many tensors of each type, e.g. `{ F32: 11, F16: 36 }`. */
    tensorTypes: Record<string, number>;
}

/** Reads and validates a GGUF file and summarizes it (any architecture). */
export async function describeGgufFile(path: string): Promise<GgufModelSummary> {
    const file = await readGgufFile(path);
    const meta = file.metadata;
    const architecture = metadataString(meta, "general.architecture");
    // Per-layer arrays (some architectures vary head counts by layer) are summarized by their maximum.
    const number = (key: string) => {
        if (architecture == null) return undefined;
        const array = metadataArray(meta, `${architecture}.${key}`);
        if (array != null) return Math.max(...array.map(Number));
        return metadataNumber(meta, `${architecture}.${key}`);
    };
    const tensorTypes: Record<string, number> = {};
    for (const tensor of file.tensors) tensorTypes[tensor.typeName] = (tensorTypes[tensor.typeName] ?? 0) + 1;
    return {
        path,
        fileSize: file.fileSize,
        ggufVersion: file.version,
        architecture,
        name: metadataString(meta, "general.name"),
        layers: number("block_count"),
        embeddingLength: number("embedding_length"),
        feedForwardLength: number("feed_forward_length"),
        headCount: number("attention.head_count"),
        headCountKv: number("attention.head_count_kv"),
        contextLength: number("context_length"),
        vocabularySize: metadataArray(meta, "tokenizer.ggml.tokens")?.length ?? number("vocab_size"),
        tokenizer: metadataString(meta, "tokenizer.ggml.model"),
        hasChatTemplate: metadataString(meta, "tokenizer.chat_template") != null,
        tensorCount: file.tensors.length,
        parameterCount: file.parameterCount,
        tensorTypes
    };
}
