import { quantizeQ4_0 } from "./q4-0.ts";
import { quantizeQ4_K } from "./q4-k.ts";
import { quantizeQ5_0 } from "./q5-0.ts";
import { quantizeQ8_0 } from "./q8-0.ts";
import { randomBytes } from "node:crypto";
import { open, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { serializeGgufMetadata, type GGUFTypedMetadata } from "@huggingface/gguf";
import { float32ArrayToFloat16 } from "./float16.ts";
import { elementCount, GgmlType, ggmlTypeLayout, ggmlTypeName, tensorByteSize } from "./ggml-types.ts";
import { GGUFValueType, metadataNumber, type GgufMetadata } from "./gguf-metadata.ts";

/** The default of ggml (GGUF_DEFAULT_ALIGNMENT) when a file has no `general.alignment`. */
export const defaultGgufAlignment = 32;

/** llama.cpp's GGML_MAX_NAME is 64 bytes including the terminating NUL. */
const maxTensorNameBytes = 63;

/**
 * Tensor contents: float values (stored as F32, or converted to F16/BF16/Q8_0/Q4_0/Q5_0/Q4_K on write) or the exact
 * bytes of the tensor in its type (any type, e.g. quantized data copied from another file).
 */
export type TensorData = Float32Array | Uint8Array;

export interface GgufTensorInput {
    /** e.g. `blk.0.attn_q.weight`. */
    name: string;
    /** ggml order: `shape[0]` is the contiguous dimension (a weight matrix is `[inputs, outputs]`). */
    shape: readonly number[];
    type: GgmlType;
    /**
     * The data, or a function that makes it. Functions are called once each, in file order, while
     * the file is written, so a model far larger than memory can be written one tensor at a time.
     */
    data: TensorData | (() => TensorData | Promise<TensorData>);
}

export interface GgufWriteOptions {
    /** Key/value pairs in file order. `general.alignment` (u32), when present, sets the alignment. */
    metadata: GgufMetadata;
    tensors: readonly GgufTensorInput[];
}

export interface GgufWriteResult {
    path: string;
    /** File size in bytes. */
    bytes: number;
    /** Where tensor data starts in the file. */
    tensorDataOffset: number;
    /** Total elements over all tensors. */
    parameterCount: number;
}

/**
 * Writes a GGUF v3 file: the header (key/value pairs serialized by `@huggingface/gguf`), the tensor
 * infos, then each tensor's data padded to the alignment. The file is written under a temporary
 * name in the same folder and renamed into place when complete, so `path` is either the old file
 * or the whole new one, never half of one. Assumes a little-endian host, as llama.cpp does.
 */
export async function writeGgufFile(path: string, { metadata, tensors }: GgufWriteOptions): Promise<GgufWriteResult> {
    const alignment = metadataNumber(metadata, "general.alignment") ?? defaultGgufAlignment;
    if (!Number.isInteger(alignment) || alignment < 1 || (alignment & (alignment - 1)) !== 0)
        throw new RangeError(`general.alignment must be a power of two, got ${alignment}`);
    for (const reserved of ["version", "tensor_count", "kv_count"])
        if (reserved in metadata) throw new RangeError(`"${reserved}" is part of the GGUF header, not a metadata key`);

    const layout = planTensorLayout(tensors, alignment);
    const header = serializeHeader(metadata, tensors, layout.offsets, alignment);
    const tensorDataOffset = header.length;

    const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString("hex")}.partial`);
    let file;
    try {
        file = await open(temporary, "w");
    } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        const why = code === "ENOENT" ? "its folder does not exist" : code === "EACCES" || code === "EPERM" ? "permission denied" : (err as Error).message;
        throw new Error(`Cannot write ${path}: ${why}.`);
    }
    let position = 0;
    try {
        const write = async (bytes: Uint8Array) => {
            let done = 0;
            while (done < bytes.length) {
                const { bytesWritten } = await file.write(bytes, done, bytes.length - done, position + done);
                done += bytesWritten;
            }
            position += bytes.length;
        };
        await write(header);
        for (const [i, tensor] of tensors.entries()) {
            const bytes = encodeTensor(tensor, await (typeof tensor.data === "function" ? tensor.data() : tensor.data), layout.sizes[i]!);
            await write(bytes);
            const padding = pad(bytes.length, alignment) - bytes.length;
            if (padding > 0) await write(new Uint8Array(padding));
        }
        await file.sync();
        await file.close();
        await rename(temporary, path);
    } catch (err) {
        await file.close().catch(() => undefined);
        await rm(temporary, { force: true });
        throw err;
    }
    return {
        path,
        bytes: position,
        tensorDataOffset,
        parameterCount: tensors.reduce((sum, t) => sum + elementCount(t.shape), 0)
    };
}

function pad(n: number, alignment: number): number {
    return Math.ceil(n / alignment) * alignment;
}

function planTensorLayout(tensors: readonly GgufTensorInput[], alignment: number) {
    const names = new Set<string>();
    const offsets: number[] = [];
    const sizes: number[] = [];
    let offset = 0;
    for (const tensor of tensors) {
        const nameBytes = Buffer.byteLength(tensor.name);
        if (nameBytes === 0 || nameBytes > maxTensorNameBytes)
            throw new RangeError(`tensor name "${tensor.name}" must be 1 to ${maxTensorNameBytes} bytes long`);
        if (names.has(tensor.name)) throw new RangeError(`two tensors are named "${tensor.name}"`);
        names.add(tensor.name);
        if (tensor.shape.length < 1 || tensor.shape.length > 4 || tensor.shape.some((d) => !Number.isInteger(d) || d < 1))
            throw new RangeError(`tensor "${tensor.name}" has shape [${tensor.shape.join(", ")}]; ggml needs 1 to 4 positive dimensions`);
        if (ggmlTypeLayout(tensor.type) == null) throw new RangeError(`tensor "${tensor.name}" has ${ggmlTypeName(tensor.type)}`);
        const size = tensorByteSize(tensor.type, tensor.shape);
        offsets.push(offset);
        sizes.push(size);
        offset += pad(size, alignment);
    }
    return { offsets, sizes };
}

function serializeHeader(metadata: GgufMetadata, tensors: readonly GgufTensorInput[], offsets: number[], alignment: number): Uint8Array {
    for (const [key, entry] of Object.entries(metadata))
        if (entry.type === GGUFValueType.ARRAY && (entry.subType == null || entry.subType === GGUFValueType.ARRAY))
            throw new RangeError(`metadata key "${key}": arrays need an element type, and nested arrays are not supported`);
    const typed = {
        version: { value: 3, type: GGUFValueType.UINT32 },
        tensor_count: { value: BigInt(tensors.length), type: GGUFValueType.UINT64 },
        kv_count: { value: BigInt(Object.keys(metadata).length), type: GGUFValueType.UINT64 },
        ...metadata
    } as GGUFTypedMetadata;
    // Alignment 1: serializeGgufMetadata pads its output to the alignment, but in a GGUF file the
    // tensor infos follow the key/value pairs directly and only the tensor data is aligned.
    const keyValues = serializeGgufMetadata(typed, { alignment: 1 });

    const infoParts: Buffer[] = [];
    for (const [i, tensor] of tensors.entries()) {
        const name = Buffer.from(tensor.name, "utf8");
        const info = Buffer.alloc(8 + name.length + 4 + 8 * tensor.shape.length + 4 + 8);
        let at = info.writeBigUInt64LE(BigInt(name.length), 0);
        at += name.copy(info, at);
        at = info.writeUInt32LE(tensor.shape.length, at);
        for (const dim of tensor.shape) at = info.writeBigUInt64LE(BigInt(dim), at);
        at = info.writeUInt32LE(tensor.type, at);
        info.writeBigUInt64LE(BigInt(offsets[i]!), at);
        infoParts.push(info);
    }
    const unpadded = keyValues.length + infoParts.reduce((sum, part) => sum + part.length, 0);
    const header = new Uint8Array(pad(unpadded, alignment));
    header.set(keyValues, 0);
    let at = keyValues.length;
    for (const part of infoParts) {
        header.set(part, at);
        at += part.length;
    }
    return header;
}

function encodeTensor(tensor: GgufTensorInput, data: TensorData, expectedBytes: number): Uint8Array {
    const elements = elementCount(tensor.shape);
    if (data instanceof Float32Array) {
        if (data.length !== elements)
            throw new RangeError(`tensor "${tensor.name}" has ${data.length} values for shape [${tensor.shape.join(", ")}] (${elements})`);
        switch (tensor.type) {
            case GgmlType.F32:
                return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
            case GgmlType.F16: {
                const halves = float32ArrayToFloat16(data);
                return new Uint8Array(halves.buffer);
            }
            case GgmlType.BF16:
                return new Uint8Array(float32ArrayToBfloat16(data).buffer);
            case GgmlType.Q8_0:
                return quantizeQ8_0(data);
            case GgmlType.Q4_0:
                return quantizeQ4_0(data);
            case GgmlType.Q5_0:
                return quantizeQ5_0(data);
            case GgmlType.Q4_K:
                return quantizeQ4_K(data);
            default:
                throw new RangeError(`tensor "${tensor.name}": float values can be written as F32, F16, BF16, Q8_0, Q4_0, Q5_0 or Q4_K, not ${ggmlTypeName(tensor.type)}; pass its bytes instead`);
        }
    }
    if (data.length !== expectedBytes)
        throw new RangeError(`tensor "${tensor.name}" has ${data.length} bytes; ${ggmlTypeName(tensor.type)} [${tensor.shape.join(", ")}] takes ${expectedBytes}`);
    return data;
}

function float32ArrayToBfloat16(values: Float32Array): Uint16Array {
    const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
    const out = new Uint16Array(values.length);
    for (let i = 0; i < bits.length; i++) {
        const b = bits[i]!;
        // Round to nearest even; NaN stays a (quiet) NaN instead of rounding into infinity.
        out[i] = (b & 0x7fffffff) > 0x7f800000 ? ((b >>> 16) | 0x40) : ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16);
    }
    return out;
}
