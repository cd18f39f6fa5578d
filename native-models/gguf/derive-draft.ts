import { GgufFormatError, TransformOptionError } from "./gguf-error.ts";
import { kv, metadataString, type GgufMetadata } from "./gguf-metadata.ts";
import { readGgufFile, readTensorBytes, type GgufTensorInfo } from "./gguf-reader.ts";
import { writeGgufFile, type GgufTensorInput } from "./gguf-writer.ts";
import { requireArchitecture, requireBlockCount } from "./llama-shape.ts";

export interface EarlyExitDraftOptions {
    /** The target model. */
    from: string;
    /** Blocks to keep, from 1 to the target's block count − 1. */
    layers: number;
    /** Where to write the draft. */
    out: string;
}

export interface EarlyExitDraftResult {
    out: string;
    bytes: number;
    parameterCount: number;
    layers: number;
    /** The target's block count. */
    targetLayers: number;
    architecture: string;
}

/** Why `layers` cannot be an early exit of a `blocks`-block model (one sentence), or undefined. */
export function earlyExitLayersProblem(layers: number, blocks: number): string | undefined {
    if (!Number.isInteger(layers) || layers < 1 || layers >= blocks)
        return blocks < 2
            ? `the model has ${blocks} block, so it has no shorter early exit`
            : `cannot keep ${layers} layers: an early exit keeps 1 to ${blocks - 1} of the model's ${blocks} blocks`;
    return undefined;
}

/**
 * Writes an early-exit (LITE-style self-speculation) draft: the target's first `layers` blocks
 * followed directly by its final norm and output head. Everything outside the blocks is copied
 * byte for byte (token embedding, output norm, output head or the tied embedding, any other global
 * tensor), as is every metadata key except the block count and name, so the vocabulary is the
 * target's exactly. Tensors are copied in their own type, quantized ones included. Per-layer
 * metadata arrays (one value per block) are cut to the kept blocks.
 */
export async function deriveEarlyExitDraft({ from, layers, out }: EarlyExitDraftOptions): Promise<EarlyExitDraftResult> {
    const source = await readGgufFile(from);
    const architecture = requireArchitecture(source);
    const blocks = requireBlockCount(source);
    const problem = earlyExitLayersProblem(layers, blocks);
    if (problem != null) throw new TransformOptionError(problem);

    const metadata: GgufMetadata = {};
    for (const [key, entry] of Object.entries(source.metadata)) {
        if (key === `${architecture}.block_count`) metadata[key] = { ...entry, value: layers };
        else if (key.startsWith(`${architecture}.`) && Array.isArray(entry.value) && entry.value.length === blocks)
            metadata[key] = { ...entry, value: entry.value.slice(0, layers) };
        else metadata[key] = entry;
    }
    const name = metadataString(source.metadata, "general.name") ?? architecture;
    metadata["general.name"] = kv.string(`${name} (early exit: ${layers} of ${blocks} blocks)`);

    const kept: GgufTensorInfo[] = source.tensors.filter((tensor) => {
        const block = /^blk\.(\d+)\./.exec(tensor.name);
        return block == null || Number(block[1]) < layers;
    });
    if (!kept.some((t) => t.name === "token_embd.weight"))
        throw new GgufFormatError(from, 'has no "token_embd.weight" tensor, so its blocks cannot be cut off');
    const tensors: GgufTensorInput[] = kept.map((tensor) => ({
        name: tensor.name,
        shape: tensor.shape,
        type: tensor.type as GgufTensorInput["type"],
        data: () => readTensorBytes(source, tensor)
    }));
    const written = await writeGgufFile(out, { metadata, tensors });
    return { out, bytes: written.bytes, parameterCount: written.parameterCount, layers, targetLayers: blocks, architecture };
}
