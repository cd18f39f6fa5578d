import { basename } from "node:path";
import { GgmlType } from "./ggml-types.ts";
import { kv, type GgufMetadata } from "./gguf-metadata.ts";
import { writeGgufFile, type GgufTensorInput } from "./gguf-writer.ts";
import { SeededRandom } from "./seeded-random.ts";
import { buildSynthVocabulary, chatMlTemplate, TokenType } from "./synth-vocabulary.ts";
import { readVocabularySource } from "./vocabulary-source.ts";
import { fileTypeOf, matrixTypeFor, parseWeightType, type WeightTypeName } from "./weight-type.ts";

export interface SynthModelOptions {
    /** Where to write the .gguf file. */
    out: string;
    /** Seed of the weights; the same options give a byte-identical file. Default 0. */
    seed?: number;
    /** Transformer blocks. Default 2. */
    layers?: number;
    /** Embedding width. Default 64. */
    dim?: number;
    /** Attention heads; `dim / heads` must be even (RoPE rotates pairs). Default 4. */
    heads?: number;
    /** Key/value heads (grouped-query attention); must divide `heads`. Default 2. */
    kvHeads?: number;
    /** Hidden width of the SwiGLU feed-forward. Default 2 × dim. */
    feedForward?: number;
    /** Context length the model claims. Default 512. */
    contextLength?: number;
    /**
     * A GGUF file whose whole tokenizer and chat template the model takes (every `tokenizer.*` key,
     * e.g. llama.cpp's `ggml-vocab-qwen2.gguf`), with its embedding and output sized to that vocabulary.
     * Default: our own small SentencePiece vocabulary.
     */
    vocabularyFrom?: string;
    /**
     * Storage of the weight matrices (token embedding, output head, attention and FFN); norms stay
     * F32. Q4_K rows that are not a multiple of 256 are stored as Q5_0, as llama.cpp's quantizer
     * does (see `matrixTypeFor`). Default "f32".
     */
    type?: WeightTypeName;
    /**
     * A Jinja chat template for `tokenizer.chat_template`, in place of the vocabulary's (or added where
     * it has none, as llama.cpp's llama-bpe vocabulary file).
     */
    chatTemplate?: string;
    /**
     * Token ids the model says one after another: after `chain[i]` its output head favours
     * `chain[i + 1]` by a wide margin, so greedy decoding that reaches `chain[0]` follows the chain to
     * its end (an end-of-turn token, say). Random weights never end a turn by themselves; this writes
     * a bigram into the weights (the output row of each next token points along the embedding of the
     * one before, whose embedding is scaled up so that the blocks do not drown it), and llama.cpp
     * still computes every logit. A token may lead to only one next token.
     */
    chain?: readonly number[];
}

export interface SynthModelResult {
    out: string;
    bytes: number;
    parameterCount: number;
    vocabularySize: number;
    layers: number;
    dim: number;
    heads: number;
    kvHeads: number;
    feedForward: number;
    contextLength: number;
    seed: number;
    type: WeightTypeName;
    /** The file the vocabulary came from, when not our own. */
    vocabularyFrom?: string;
    /** The chain written into the weights, when one was given. */
    chain?: number[];
}

type ResolvedShape = Required<Omit<SynthModelOptions, "out" | "vocabularyFrom" | "type" | "chatTemplate" | "chain">>;

function resolveShape(options: Omit<SynthModelOptions, "out" | "vocabularyFrom" | "chatTemplate" | "chain">): ResolvedShape {
    const dim = options.dim ?? 64;
    return {
        seed: options.seed ?? 0,
        layers: options.layers ?? 2,
        dim,
        heads: options.heads ?? 4,
        kvHeads: options.kvHeads ?? 2,
        feedForward: options.feedForward ?? 2 * dim,
        contextLength: options.contextLength ?? 512
    };
}

/** Why these synth options cannot make a model (one sentence), or undefined when they can. */
export function synthOptionsProblem(options: Omit<SynthModelOptions, "out" | "vocabularyFrom" | "chatTemplate">): string | undefined {
    const s = resolveShape(options);
    const whole = (name: string, value: number, min: number, max: number) =>
        Number.isInteger(value) && value >= min && value <= max ? undefined : `${name} must be a whole number from ${min} to ${max}, got ${value}`;
    return (
        whole("seed", s.seed, 0, 0xffffffff) ??
        whole("layers", s.layers, 1, 256) ??
        whole("dim", s.dim, 2, 8192) ??
        whole("heads", s.heads, 1, 256) ??
        whole("kvHeads", s.kvHeads, 1, 256) ??
        whole("feedForward", s.feedForward, 1, 65536) ??
        whole("contextLength", s.contextLength, 16, 1 << 20) ??
        (s.dim % s.heads !== 0 || (s.dim / s.heads) % 2 !== 0
            ? `dim (${s.dim}) must be a multiple of 2 × heads (${s.heads}): each head needs an even width for RoPE`
            : s.heads % s.kvHeads !== 0
              ? `kvHeads (${s.kvHeads}) must divide heads (${s.heads})`
              : chainProblem(options.chain))
    );
}

/** Why a chain cannot be written as a bigram (a token followed two ways), or undefined. */
function chainProblem(chain: readonly number[] | undefined): string | undefined {
    if (chain == null) return undefined;
    const next = new Map<number, number>();
    for (let i = 0; i < chain.length; i++) {
        const token = chain[i]!;
        if (!Number.isInteger(token) || token < 0) return `chain tokens must be token ids, got ${token}`;
        if (i + 1 >= chain.length) break;
        const was = next.get(token);
        if (was != null && was !== chain[i + 1]) return `chain token ${token} is followed by both ${was} and ${chain[i + 1]}: a token can lead to one next token only`;
        next.set(token, chain[i + 1]!);
    }
    return undefined;
}

/** Margin of a chain's next token: its logit is about this × √dim, ordinary logits about ±1 to 4. */
const chainGain = 4;
/** How much a chain token's embedding outweighs what the blocks add to the residual stream. */
const chainEmbeddingScale = 8;

/**
 * Writes a tiny Llama-architecture model with its own SentencePiece-style vocabulary (see
 * `buildSynthVocabulary`) and a ChatML chat template, or with the tokenizer and template of
 * `vocabularyFrom`, with pseudo-random weights from `seed` (F32 unless `type` says otherwise).
 *
 * It computes nothing meaningful, but it loads in llama.cpp, tokenizes any text (byte fallback),
 * chats, and generates deterministically: the test stand-in for a model one cannot ship. Weights
 * use fan-in scaling (std 1/√fan_in) so every block moves the residual stream about as much as the
 * embedding does, which keeps greedy output context-dependent instead of stuck on one token. The
 * output rows of control, byte and unknown tokens are zero, so greedy decoding picks word pieces
 * (never `</s>` or `<|im_end|>`): generation runs until its token budget.
 */
export async function synthesizeModel(options: SynthModelOptions): Promise<SynthModelResult> {
    const problem = synthOptionsProblem(options);
    if (problem != null) throw new RangeError(problem);
    const type = parseWeightType(options.type ?? "f32");
    const shape = resolveShape(options);
    const { seed, layers, dim, heads, kvHeads, feedForward, contextLength } = shape;
    const headDim = dim / heads;
    const source = options.vocabularyFrom == null ? undefined : await readVocabularySource(options.vocabularyFrom);
    const own = source == null ? buildSynthVocabulary() : undefined;
    const vocabularySize = source?.tokenCount ?? own!.tokens.length;
    const chain = options.chain ?? [];
    const outside = chain.find((t) => t >= vocabularySize);
    if (outside != null) throw new RangeError(`chain token ${outside} is outside the vocabulary (${vocabularySize} tokens)`);
    // Token types decide which output rows are zeroed below; a file without them has only normal tokens.
    const tokenTypes = source != null ? source.tokenTypes : own!.types;

    const tokenizer: GgufMetadata =
        source != null
            ? source.metadata
            : {
                  "tokenizer.ggml.model": kv.string("llama"),
                  "tokenizer.ggml.tokens": kv.strings(own!.tokens),
                  "tokenizer.ggml.scores": kv.f32s(own!.scores),
                  "tokenizer.ggml.token_type": kv.i32s(own!.types),
                  "tokenizer.ggml.unknown_token_id": kv.u32(own!.unknownId),
                  "tokenizer.ggml.bos_token_id": kv.u32(own!.bosId),
                  "tokenizer.ggml.eos_token_id": kv.u32(own!.eosId),
                  "tokenizer.ggml.add_bos_token": kv.bool(true),
                  "tokenizer.ggml.add_eos_token": kv.bool(false),
                  "tokenizer.chat_template": kv.string(chatMlTemplate)
              };
    if (options.chatTemplate != null) tokenizer["tokenizer.chat_template"] = kv.string(options.chatTemplate);
    const vocabularyName = source == null ? "" : `-${basename(source.path, ".gguf")}`;

    const metadata: GgufMetadata = {
        "general.architecture": kv.string("llama"),
        "general.name": kv.string(`presage-synth-s${seed}-L${layers}-D${dim}${vocabularyName}`),
        "general.file_type": kv.u32(fileTypeOf(type)),
        "llama.context_length": kv.u32(contextLength),
        "llama.embedding_length": kv.u32(dim),
        "llama.feed_forward_length": kv.u32(feedForward),
        "llama.block_count": kv.u32(layers),
        "llama.attention.head_count": kv.u32(heads),
        "llama.attention.head_count_kv": kv.u32(kvHeads),
        "llama.rope.dimension_count": kv.u32(headDim),
        "llama.rope.freq_base": kv.f32(10000),
        "llama.attention.layer_norm_rms_epsilon": kv.f32(1e-5),
        "llama.vocab_size": kv.u32(vocabularySize),
        ...tokenizer
    };

    const random = (name: string, shape: [number, number], std: number) => () =>
        new SeededRandom(seed, name).fillUniform(new Float32Array(shape[0] * shape[1]), std);
    const ones = (length: number) => () => new Float32Array(length).fill(1);
    const matrix = (name: string, inputs: number, outputs: number): GgufTensorInput => ({
        name,
        shape: [inputs, outputs],
        type: matrixTypeFor(type, inputs),
        data: random(name, [inputs, outputs], 1 / Math.sqrt(inputs))
    });

    const tensors: GgufTensorInput[] = [
        {
            name: "token_embd.weight",
            shape: [dim, vocabularySize],
            type: matrixTypeFor(type, dim),
            data: () => {
                const embedding = random("token_embd.weight", [dim, vocabularySize], 1)();
                for (const token of new Set(chain.slice(0, -1)))
                    for (let i = token * dim; i < (token + 1) * dim; i++) embedding[i]! *= chainEmbeddingScale;
                return embedding;
            }
        },
        { name: "output_norm.weight", shape: [dim], type: GgmlType.F32, data: ones(dim) },
        {
            name: "output.weight",
            shape: [dim, vocabularySize],
            type: matrixTypeFor(type, dim),
            data: () => {
                const weights = random("output.weight", [dim, vocabularySize], 1 / Math.sqrt(dim))();
                tokenTypes.forEach((tokenType, token) => {
                    if (tokenType !== TokenType.NORMAL) weights.fill(0, token * dim, (token + 1) * dim);
                });
                if (chain.length > 1) {
                    // The same seeded rows as the embedding above: row `next` = gain · unit(embedding of `from`).
                    const embedding = random("token_embd.weight", [dim, vocabularySize], 1)();
                    for (let i = 0; i + 1 < chain.length; i++) {
                        const [from, next] = [chain[i]!, chain[i + 1]!];
                        const row = embedding.subarray(from * dim, (from + 1) * dim);
                        const norm = Math.hypot(...row);
                        for (let d = 0; d < dim; d++) weights[next * dim + d] = (chainGain * row[d]!) / norm;
                    }
                }
                return weights;
            }
        }
    ];
    for (let b = 0; b < layers; b++) {
        const p = `blk.${b}.`;
        tensors.push(
            matrix(`${p}attn_q.weight`, dim, heads * headDim),
            matrix(`${p}attn_k.weight`, dim, kvHeads * headDim),
            matrix(`${p}attn_v.weight`, dim, kvHeads * headDim),
            matrix(`${p}attn_output.weight`, heads * headDim, dim),
            { name: `${p}attn_norm.weight`, shape: [dim], type: GgmlType.F32, data: ones(dim) },
            matrix(`${p}ffn_gate.weight`, dim, feedForward),
            matrix(`${p}ffn_down.weight`, feedForward, dim),
            matrix(`${p}ffn_up.weight`, dim, feedForward),
            { name: `${p}ffn_norm.weight`, shape: [dim], type: GgmlType.F32, data: ones(dim) }
        );
    }

    const written = await writeGgufFile(options.out, { metadata, tensors });
    return {
        out: options.out,
        bytes: written.bytes,
        parameterCount: written.parameterCount,
        vocabularySize,
        ...shape,
        type,
        ...(source != null ? { vocabularyFrom: source.path } : {}),
        ...(chain.length > 0 ? { chain: [...chain] } : {})
    };
}
