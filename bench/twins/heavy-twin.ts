import { basename } from "node:path";
import { GgmlType } from "../../native-models/gguf/ggml-types.ts";
import { GgufFormatError, TransformOptionError } from "../../native-models/gguf/gguf-error.ts";
import { kv, metadataString, type GgufMetadata } from "../../native-models/gguf/gguf-metadata.ts";
import { readGgufFile, readTensorFloat32, type GgufFile } from "../../native-models/gguf/gguf-reader.ts";
import { writeGgufFile, type GgufTensorInput } from "../../native-models/gguf/gguf-writer.ts";
import { readLlamaShape, type LlamaShape } from "../../native-models/gguf/llama-shape.ts";
import { SeededRandom } from "../../native-models/gguf/seeded-random.ts";
import { fileTypeOf, matrixTypeFor, parseWeightType, type WeightTypeName } from "../../native-models/gguf/weight-type.ts";

/**
 * A heavy twin is a much larger Llama model that computes (nearly) the same function as a small
 * one: the benchmark target that stands in for a real 7B model on machines where only a tiny
 * trained model is at hand, with the small model as its draft.
 *
 * Construction (exact at `perturb = 0`, up to float rounding):
 * - Wider residual stream: n_embd grows by an integer factor w. The extra dimensions start at zero
 *   and nothing writes into them (zero columns in token_embd, zero rows in attn_output/ffn_down), so
 *   they stay zero. RMSNorm then averages over more dimensions, which scales every norm by exactly
 *   √(D/D0); the norm weights are multiplied by √(D0/D) and the epsilon by D0/D to cancel it.
 * - More heads: head count and KV head count grow by w with the head width unchanged (so the
 *   attention scale and RoPE are unchanged, and each original query head keeps its KV head). The
 *   new heads' outputs enter attn_output through zero columns.
 * - Wider FFN: extra SwiGLU hidden units (rows of ffn_gate/ffn_up) enter ffn_down through zero columns.
 * - Deeper: new blocks are interleaved after the original ones; their attn_output and ffn_down are
 *   zero, so with the residual connection each is the identity.
 * Everything that only reads (q, k, v, gate, up, the output head's extra inputs, new blocks'
 * readers) gets random weights at the scale of the matching original tensor, so the new capacity
 * computes real activations. The original weights are never changed (beyond F16 rounding).
 *
 * Perturbation: `perturb = p` adds uniform noise to every weight that was set to zero, sized so the
 * new capacity writes about p times what the original weights write into the residual stream,
 * whatever the twin's size:
 * - a widened writer (token_embd, an original block's attn_output/ffn_down): std
 *   p·σ·√(n0 / (n − n0)), σ the RMS of the original matrix, n0 and n its original and new fan-in,
 *   so its new inputs together add about p times the original inputs' contribution;
 * - a new block's writer: std p·σ·√(n0 / n)·√(L0 / L_new), so each new block writes p·√(L0 / L_new)
 *   times an original block and all L_new of them together about p times the L0 original blocks.
 * A plain "p × σ per weight" was tried first: its effect grew with the fan-in and the number of new
 * blocks, so at 150M parameters p = 0.01 already cut greedy agreement to 31%, and the same p meant
 * different things at different sizes.
 *
 * Sizes: w, the depth and the FFN width are chosen together so the parameter count lands near the
 * target with the model's proportions kept sane: about 32 residual dimensions per block (GPT-2 small
 * has 64, stories260K 13) and the source's FFN-to-embedding ratio.
 */
export interface HeavyTwinOptions {
    /** The small Llama model (F32, F16 or BF16 weights). */
    from: string;
    out: string;
    /** Target parameter count. Default 150M. */
    params?: number;
    /** Noise on the zero-initialised weights: about this fraction of what the original weights write (see above). Default 0. */
    perturb?: number;
    /** Seed of the random weights and noise. Default 0. */
    seed?: number;
    /**
     * Storage of weight matrices; norms stay F32 as llama.cpp expects. Default "f16": half the file
     * and half the memory traffic per token, and per-token cost on a CPU is memory-bound, so an F16
     * twin behaves like the F16/quantized models people run. "f32" keeps the original weights exact;
     * "q8_0", "q4_0" and "q4_k" quantize as llama.cpp's reference quantizers do (rows of a Q4_K
     * matrix that are not a multiple of 256 are stored as Q5_0, as llama-quantize does).
     */
    type?: WeightTypeName;
}

/** The shape chosen for a heavy twin. */
export interface HeavyTwinPlan {
    widthFactor: number;
    embeddingLength: number;
    feedForwardLength: number;
    headCount: number;
    headCountKv: number;
    blockCount: number;
    /** Position of each original block in the twin (original block i is twin block `originalBlockPositions[i]`). */
    originalBlockPositions: number[];
    parameterCount: number;
}

export interface HeavyTwinResult extends HeavyTwinPlan {
    out: string;
    bytes: number;
    sourceParameterCount: number;
    targetParameterCount: number;
    perturb: number;
    seed: number;
    type: WeightTypeName;
}

const blockTensorRoles = ["attn_q", "attn_k", "attn_v", "attn_output", "attn_norm", "ffn_gate", "ffn_down", "ffn_up", "ffn_norm"] as const;
type BlockRole = (typeof blockTensorRoles)[number];
const globalTensors = ["token_embd.weight", "output_norm.weight", "output.weight", "rope_freqs.weight"];

/** Residual dimensions per block the sizing aims for (see the module comment). */
const dimensionsPerBlock = 32;
/** FFN widths are rounded to this multiple, as real models' are. */
const feedForwardMultiple = 32;

/** Parameters of a Llama model of this shape (must match the tensors `buildHeavyTwin` writes). */
function countParameters(s: { D: number; F: number; H: number; K: number; L: number }, src: LlamaShape, extraGlobal: number): number {
    const attention = s.D * s.H * src.keyLength + s.D * s.K * src.keyLength + s.D * s.K * src.valueLength + s.H * src.valueLength * s.D;
    const block = attention + 3 * s.D * s.F + 2 * s.D;
    return src.vocabularySize * s.D * (src.tiedEmbeddings ? 1 : 2) + s.D + extraGlobal + s.L * block;
}

/**
 * Picks width factor, depth and FFN width for `targetParams` (see the module comment). `rowMultiple`
 * makes both widths multiples of it (256 for Q4_K, whose super-blocks span 256 values of a row: a
 * narrower row would be stored as Q5_0, and the twin would not be the Q4_K model it claims to be).
 * Throws a `TransformOptionError` when the target is not larger than the source.
 */
export function planHeavyTwin(source: LlamaShape, sourceParams: number, targetParams: number, extraGlobalParams = 0, rowMultiple = 1): HeavyTwinPlan {
    if (!(targetParams > sourceParams))
        throw new TransformOptionError(`params must be larger than the source model's ${sourceParams} parameters, got ${targetParams}`);
    const D0 = source.embeddingLength;
    const F0 = source.feedForwardLength;
    const L0 = source.blockCount;
    let best: (HeavyTwinPlan & { score: number }) | undefined;
    const ffnMultiple = lcm(feedForwardMultiple, rowMultiple);
    for (let w = 1; w <= 64 && D0 * w <= 16384; w++) {
        const D = D0 * w, H = source.headCount * w, K = source.headCountKv * w;
        if (D % rowMultiple !== 0) continue;
        const fixed = countParameters({ D, F: 0, H, K, L: 0 }, source, extraGlobalParams);
        const perBlockNoFfn = countParameters({ D, F: 0, H, K, L: 1 }, source, extraGlobalParams) - fixed;
        const perBlock = perBlockNoFfn + 3 * D * F0 * w;
        const ideal = (targetParams - fixed) / perBlock;
        for (const L of new Set([Math.max(L0, Math.floor(ideal)), Math.max(L0, Math.ceil(ideal))])) {
            const exactF = (targetParams - fixed - L * perBlockNoFfn) / (3 * D * L);
            const F = Math.max(Math.ceil(F0 / ffnMultiple) * ffnMultiple, Math.round(exactF / ffnMultiple) * ffnMultiple);
            if (exactF < F0 * 0.5) continue;
            const parameterCount = countParameters({ D, F, H, K, L }, source, extraGlobalParams);
            const score =
                Math.abs(Math.log(D / L / dimensionsPerBlock)) +
                Math.abs(Math.log(F / D / (F0 / D0))) +
                4 * Math.abs(Math.log(parameterCount / targetParams));
            if (best == null || score < best.score)
                best = {
                    score,
                    widthFactor: w,
                    embeddingLength: D,
                    feedForwardLength: F,
                    headCount: H,
                    headCountKv: K,
                    blockCount: L,
                    originalBlockPositions: interleave(L0, L),
                    parameterCount
                };
        }
    }
    if (best == null) throw new TransformOptionError(`no Llama shape of about ${targetParams} parameters can hold this model`);
    const { score: _score, ...plan } = best;
    return plan;
}

function lcm(a: number, b: number): number {
    let x = a, y = b;
    while (y !== 0) [x, y] = [y, x % y];
    return (a / x) * b;
}

/** Spreads `total − original` new blocks evenly after the original ones. */
function interleave(original: number, total: number): number[] {
    const extra = total - original;
    const positions: number[] = [];
    let position = 0;
    for (let i = 0; i < original; i++) {
        positions.push(position);
        position += 1 + Math.floor(((i + 1) * extra) / original) - Math.floor((i * extra) / original);
    }
    return positions;
}

/**
 * Builds the heavy twin of `from` (see the module comment) and writes it to `out`. The source is
 * read into memory whole (it is the small model); the twin is written one tensor at a time.
 */
export async function buildHeavyTwin(options: HeavyTwinOptions): Promise<HeavyTwinResult> {
    const { from, out, params = 150e6, perturb = 0, seed = 0 } = options;
    let type: WeightTypeName;
    try {
        type = parseWeightType(options.type ?? "f16");
    } catch (err) {
        throw new TransformOptionError((err as Error).message);
    }
    if (!Number.isFinite(perturb) || perturb < 0) throw new TransformOptionError(`perturb must be a number ≥ 0, got ${perturb}`);
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new TransformOptionError(`seed must be a whole number from 0 to 4294967295, got ${seed}`);
    const file = await readGgufFile(from);
    const shape = readLlamaShape(file);
    if (shape.architecture !== "llama")
        throw new GgufFormatError(from, `is a "${shape.architecture}" model; a heavy twin can only be built from a "llama" model`);
    for (const tensor of file.tensors) {
        const block = /^blk\.\d+\.(\w+)\.weight$/.exec(tensor.name);
        if (block != null ? !(blockTensorRoles as readonly string[]).includes(block[1]!) : !globalTensors.includes(tensor.name))
            throw new GgufFormatError(from, `has tensor "${tensor.name}", which the heavy-twin construction does not know how to widen`);
    }
    const weights = new Map<string, Float32Array>();
    for (const tensor of file.tensors) weights.set(tensor.name, await readTensorFloat32(file, tensor));
    const ropeFreqs = file.tensors.find((t) => t.name === "rope_freqs.weight");
    const plan = planHeavyTwin(shape, file.parameterCount, params, ropeFreqs?.elements ?? 0, type === "q4_k" ? 256 : 1);

    const twin = new TwinBuilder(file, shape, plan, weights, { perturb, seed, weightType: type });
    const written = await writeGgufFile(out, { metadata: twin.metadata(basename(from)), tensors: twin.tensors() });
    return {
        ...plan,
        parameterCount: written.parameterCount,
        out,
        bytes: written.bytes,
        sourceParameterCount: file.parameterCount,
        targetParameterCount: params,
        perturb,
        seed,
        type
    };
}

interface TwinSettings {
    perturb: number;
    seed: number;
    weightType: WeightTypeName;
}

/** Makes the twin's metadata and lazily computed tensors from the source's weights. */
class TwinBuilder {
    private readonly D0: number;
    private readonly D: number;
    private readonly normScale: number;

    constructor(
        private readonly file: GgufFile,
        private readonly shape: LlamaShape,
        private readonly plan: HeavyTwinPlan,
        private readonly weights: Map<string, Float32Array>,
        private readonly settings: TwinSettings
    ) {
        this.D0 = shape.embeddingLength;
        this.D = plan.embeddingLength;
        this.normScale = Math.sqrt(this.D0 / this.D);
    }

    metadata(sourceName: string): GgufMetadata {
        const arch = this.shape.architecture;
        const p = this.plan;
        const changed: GgufMetadata = {
            [`${arch}.embedding_length`]: kv.u32(p.embeddingLength),
            [`${arch}.feed_forward_length`]: kv.u32(p.feedForwardLength),
            [`${arch}.block_count`]: kv.u32(p.blockCount),
            [`${arch}.attention.head_count`]: kv.u32(p.headCount),
            [`${arch}.attention.head_count_kv`]: kv.u32(p.headCountKv),
            [`${arch}.attention.key_length`]: kv.u32(this.shape.keyLength),
            [`${arch}.attention.value_length`]: kv.u32(this.shape.valueLength),
            // Cancels the wider RMSNorm's averaging exactly: see the module comment.
            [`${arch}.attention.layer_norm_rms_epsilon`]: kv.f32((this.shape.rmsEpsilon * this.D0) / this.D),
            "general.file_type": kv.u32(fileTypeOf(this.settings.weightType))
        };
        const metadata: GgufMetadata = {};
        for (const [key, entry] of Object.entries(this.file.metadata)) metadata[key] = changed[key] ?? entry;
        Object.assign(metadata, changed);
        const name = metadataString(this.file.metadata, "general.name") ?? sourceName;
        metadata["general.name"] = kv.string(`${name} heavy twin (${Math.round(p.parameterCount / 1e6)}M, perturb ${this.settings.perturb})`);
        metadata["presage.heavy_twin.source"] = kv.string(sourceName);
        metadata["presage.heavy_twin.perturb"] = kv.f32(this.settings.perturb);
        metadata["presage.heavy_twin.seed"] = kv.u32(this.settings.seed);
        metadata["presage.heavy_twin.original_blocks"] = kv.i32s(p.originalBlockPositions);
        return metadata;
    }

    tensors(): GgufTensorInput[] {
        const { D } = this;
        const V = this.shape.vocabularySize;
        const tensors: GgufTensorInput[] = [
            this.matrix("token_embd.weight", "token_embd.weight", [D, V], "writer-inputs")
        ];
        tensors.push({ name: "output_norm.weight", shape: [D], type: GgmlType.F32, data: () => this.norm("output_norm.weight") });
        if (!this.shape.tiedEmbeddings) tensors.push(this.matrix("output.weight", "output.weight", [D, V], "reader"));
        const rope = this.file.tensors.find((t) => t.name === "rope_freqs.weight");
        if (rope != null) tensors.push({ name: rope.name, shape: rope.shape, type: GgmlType.F32, data: () => this.source(rope.name) });

        const originalAt = new Map(this.plan.originalBlockPositions.map((position, i) => [position, i]));
        let nearest = 0;
        for (let b = 0; b < this.plan.blockCount; b++) {
            const original = originalAt.get(b);
            if (original != null) nearest = original;
            for (const role of this.blockRoles()) tensors.push(this.blockTensor(b, role, nearest, original != null));
        }
        return tensors;
    }

    /** The source's block tensor roles, in the source's order. */
    private blockRoles(): BlockRole[] {
        return this.file.tensors
            .map((t) => /^blk\.0\.(\w+)\.weight$/.exec(t.name)?.[1])
            .filter((role): role is BlockRole => role != null);
    }

    private blockTensor(block: number, role: BlockRole, sourceBlock: number, isOriginal: boolean): GgufTensorInput {
        const { D } = this;
        const p = this.plan, s = this.shape;
        const name = `blk.${block}.${role}.weight`;
        const sourceName = `blk.${sourceBlock}.${role}.weight`;
        if (role === "attn_norm" || role === "ffn_norm") return { name, shape: [D], type: GgmlType.F32, data: () => this.norm(sourceName) };
        // A new block is the identity: every weight that writes into the residual stream is zero.
        const writer = isOriginal ? "writer-inputs" : "writer";
        switch (role) {
            case "attn_q": return this.matrix(name, sourceName, [D, p.headCount * s.keyLength], isOriginal ? "reader" : "random");
            case "attn_k": return this.matrix(name, sourceName, [D, p.headCountKv * s.keyLength], isOriginal ? "reader" : "random");
            case "attn_v": return this.matrix(name, sourceName, [D, p.headCountKv * s.valueLength], isOriginal ? "reader" : "random");
            case "attn_output": return this.matrix(name, sourceName, [p.headCount * s.valueLength, D], writer);
            case "ffn_gate": return this.matrix(name, sourceName, [D, p.feedForwardLength], isOriginal ? "reader" : "random");
            case "ffn_up": return this.matrix(name, sourceName, [D, p.feedForwardLength], isOriginal ? "reader" : "random");
            case "ffn_down": return this.matrix(name, sourceName, [p.feedForwardLength, D], writer);
        }
    }

    /**
     * A widened matrix `[inputs, outputs]` holding the source matrix in its top-left corner.
     * - "reader": the rest is random at the source's scale (it reads dimensions that are zero).
     * - "writer-inputs": token_embd and original-block writers: the rest is zero (+ noise), so
     *   nothing reaches the new residual dimensions and new heads/units contribute nothing.
     * - "random": a new block's reader, all random at the source's scale.
     * - "writer": a new block's writer, all zero (+ noise).
     */
    private matrix(name: string, sourceName: string, shape: [number, number], kind: "reader" | "writer-inputs" | "random" | "writer"): GgufTensorInput {
        return {
            name,
            shape,
            type: matrixTypeFor(this.settings.weightType, shape[0]),
            data: () => {
                const source = this.source(sourceName);
                const sourceInfo = this.file.tensors.find((t) => t.name === sourceName)!;
                const [inputs0, outputs0] = sourceInfo.shape as [number, number];
                const [inputs, outputs] = shape;
                const scale = rms(source);
                const values = new Float32Array(inputs * outputs);
                const random = new SeededRandom(this.settings.seed, name);
                if (kind === "reader" || kind === "random") random.fillUniform(values, scale);
                else if (this.settings.perturb > 0) random.fillUniform(values, this.noiseStd(kind, scale, inputs0, inputs));
                if (kind === "reader" || kind === "writer-inputs")
                    for (let o = 0; o < outputs0; o++) values.set(source.subarray(o * inputs0, (o + 1) * inputs0), o * inputs);
                return values;
            }
        };
    }

    /** The perturbation's standard deviation for a zero-initialised writer (see the module comment). */
    private noiseStd(kind: "writer-inputs" | "writer", scale: number, inputs0: number, inputs: number): number {
        const p = this.settings.perturb;
        if (kind === "writer") {
            const newBlocks = this.plan.blockCount - this.shape.blockCount;
            return p * scale * Math.sqrt(inputs0 / inputs) * Math.sqrt(this.shape.blockCount / newBlocks);
        }
        // Without new inputs only the rows of new residual dimensions are noisy: size them like an original row.
        return inputs > inputs0 ? p * scale * Math.sqrt(inputs0 / (inputs - inputs0)) : p * scale;
    }

    /** A norm weight over the wider stream, scaled by √(D0/D) (see the module comment). */
    private norm(sourceName: string): Float32Array {
        const source = this.source(sourceName);
        const values = new Float32Array(this.D);
        let meanMagnitude = 0;
        for (let i = 0; i < this.D0; i++) {
            values[i] = source[i]! * this.normScale;
            meanMagnitude += Math.abs(values[i]!) / this.D0;
        }
        values.fill(meanMagnitude, this.D0);
        return values;
    }

    private source(name: string): Float32Array {
        const values = this.weights.get(name);
        if (values == null) throw new GgufFormatError(this.file.path, `has no tensor "${name}"`);
        return values;
    }
}

function rms(values: Float32Array): number {
    let sum = 0;
    for (let i = 0; i < values.length; i++) sum += values[i]! * values[i]!;
    return Math.sqrt(sum / Math.max(1, values.length));
}
