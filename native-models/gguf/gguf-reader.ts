import { open, stat } from "node:fs/promises";
import type { MetadataValue } from "@huggingface/gguf";
import { bfloat16ToFloat32Array, float16ToFloat32Array } from "./float16.ts";
import { GgmlType, ggmlTypeLayout, ggmlTypeName } from "./ggml-types.ts";
import { GgufFormatError } from "./gguf-error.ts";
import { GGUFValueType, type GgufMetadata, type GgufMetadataEntry } from "./gguf-metadata.ts";
import { defaultGgufAlignment } from "./gguf-writer.ts";

/** One tensor of a GGUF file, as its header describes it. */
export interface GgufTensorInfo {
    name: string;
    /** ggml order: `shape[0]` is the contiguous dimension. */
    shape: number[];
    /** The ggml type id (see `GgmlType`). */
    type: number;
    typeName: string;
    /** Absolute position of the tensor's data in the file. */
    offset: number;
    byteSize: number;
    elements: number;
}

/** A GGUF file's header: everything but the tensor data, which `readTensorBytes`/`readTensorFloat32` fetch. */
export interface GgufFile {
    path: string;
    version: number;
    fileSize: number;
    alignment: number;
    metadata: GgufMetadata;
    tensors: GgufTensorInfo[];
    /** Absolute position where tensor data starts. */
    tensorDataOffset: number;
    /** Total elements over all tensors. */
    parameterCount: number;
}

const ggufMagic = "GGUF";
/** llama.cpp's GGML_MAX_NAME (64) includes the terminating NUL. */
const maxTensorNameBytes = 63;
const maxDims = 4;
const firstReadBytes = 1 << 22;

/**
 * Reads and checks a GGUF header: magic, version, every key/value pair, every tensor info, and that
 * each tensor's data sits where llama.cpp expects it (in order, aligned) and inside the file. Any
 * problem is a `GgufFormatError` naming the file and what is wrong; nothing here crashes on bad input.
 */
export async function readGgufFile(path: string): Promise<GgufFile> {
    return readHeader(path, { keepArrays: true });
}

async function readHeader(path: string, options: ParseOptions): Promise<GgufFile> {
    let fileSize: number;
    try {
        const info = await stat(path);
        if (info.isDirectory()) throw new GgufFormatError(path, "is a folder, not a GGUF file");
        fileSize = info.size;
    } catch (err) {
        if (err instanceof GgufFormatError) throw err;
        throw new GgufFormatError(path, describeFsError(err));
    }
    // The header is parsed from memory; when it is longer than what was read, read more and start over.
    // Headers are small (a 150k-token vocabulary is a few MB), so a few restarts cost little.
    let length = Math.min(fileSize, firstReadBytes);
    for (;;) {
        const bytes = await readRange(path, 0, length);
        try {
            return parseHeader(path, bytes, fileSize, options);
        } catch (err) {
            if (!(err instanceof NeedMoreBytes)) throw err;
            length = Math.min(fileSize, length * 4);
        }
    }
}

/**
 * Checks a model file before llama.cpp loads it, so a corrupt or truncated GGUF gives a clear
 * one-line `GgufFormatError` instead of a native abort or an opaque "failed to load model".
 * Checks everything `readGgufFile` checks, but array values (vocabulary, merges: hundreds of
 * thousands of strings in big models) are walked rather than kept, so they are absent from the
 * returned metadata; this makes it several times faster on large vocabularies.
 */
export async function validateGgufFile(path: string): Promise<GgufFile> {
    return readHeader(path, { keepArrays: false });
}

/** A tensor's info by name, or a `GgufFormatError` saying it is missing. */
export function requireTensor(file: GgufFile, name: string): GgufTensorInfo {
    const tensor = file.tensors.find((t) => t.name === name);
    if (tensor == null) throw new GgufFormatError(file.path, `has no tensor "${name}"`);
    return tensor;
}

/** The raw bytes of a tensor, in its own type. */
export async function readTensorBytes(file: GgufFile, tensor: GgufTensorInfo): Promise<Uint8Array> {
    return readRange(file.path, tensor.offset, tensor.byteSize);
}

/** Types a transform can turn into float values. */
export const floatTensorTypes: readonly number[] = [GgmlType.F32, GgmlType.F16, GgmlType.BF16];

/**
 * A tensor's values as float32. Only F32, F16 and BF16 tensors can be read this way; anything else
 * (quantized data) is a `GgufFormatError`, since transforms would have to dequantize and requantize.
 */
export async function readTensorFloat32(file: GgufFile, tensor: GgufTensorInfo): Promise<Float32Array> {
    assertFloatTensor(file, tensor);
    const bytes = await readTensorBytes(file, tensor);
    switch (tensor.type) {
        case GgmlType.F32:
            return new Float32Array(bytes.buffer, bytes.byteOffset, tensor.elements);
        case GgmlType.F16:
            return float16ToFloat32Array(new Uint16Array(bytes.buffer, bytes.byteOffset, tensor.elements));
        default:
            return bfloat16ToFloat32Array(new Uint16Array(bytes.buffer, bytes.byteOffset, tensor.elements));
    }
}

/** Refuses a tensor whose type a float transform cannot handle. */
export function assertFloatTensor(file: GgufFile, tensor: GgufTensorInfo): void {
    if (!floatTensorTypes.includes(tensor.type))
        throw new GgufFormatError(
            file.path,
            `has tensor "${tensor.name}" in ${tensor.typeName}, which this transform cannot use: it needs F32, F16 or BF16 weights (use the unquantized model)`
        );
}

async function readRange(path: string, offset: number, length: number): Promise<Uint8Array> {
    // A fresh Uint8Array (not a pooled Buffer) so the bytes start 8-byte aligned for Float32Array views.
    const bytes = new Uint8Array(length);
    let file;
    try {
        file = await open(path, "r");
    } catch (err) {
        throw new GgufFormatError(path, describeFsError(err));
    }
    try {
        let done = 0;
        while (done < length) {
            const { bytesRead } = await file.read(bytes, done, length - done, offset + done);
            if (bytesRead === 0)
                throw new GgufFormatError(path, `ended at byte ${offset + done} while bytes ${offset}–${offset + length} were read (it was truncated while in use)`);
            done += bytesRead;
        }
    } finally {
        await file.close();
    }
    return bytes;
}

function describeFsError(err: unknown): string {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return "does not exist";
    if (code === "EACCES" || code === "EPERM") return "cannot be read: permission denied";
    if (code === "EISDIR") return "is a folder, not a GGUF file";
    return `cannot be read (${(err as Error).message.split("\n")[0]})`;
}

/** The in-memory prefix of the file ended before the header did; read more and parse again. */
class NeedMoreBytes extends Error {}

interface ParseOptions {
    /** Keep array values in the metadata; when false they are only checked. */
    keepArrays: boolean;
}

/** Bytes per element of fixed-size value types, so skipped arrays of them are skipped in one step. */
const fixedValueSizes: Partial<Record<number, number>> = {
    [GGUFValueType.UINT8]: 1, [GGUFValueType.INT8]: 1, [GGUFValueType.BOOL]: 1,
    [GGUFValueType.UINT16]: 2, [GGUFValueType.INT16]: 2,
    [GGUFValueType.UINT32]: 4, [GGUFValueType.INT32]: 4, [GGUFValueType.FLOAT32]: 4,
    [GGUFValueType.UINT64]: 8, [GGUFValueType.INT64]: 8, [GGUFValueType.FLOAT64]: 8
};

function parseHeader(path: string, bytes: Uint8Array, fileSize: number, { keepArrays }: ParseOptions): GgufFile {
    const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    const wholeFile = bytes.length >= fileSize;
    let at = 0;
    const fail = (problem: string): never => {
        throw new GgufFormatError(path, problem);
    };
    const need = (n: number, what: string) => {
        if (at + n <= buffer.length) return;
        if (!wholeFile) throw new NeedMoreBytes();
        fail(`is truncated: ${what} at byte ${at} runs past the end of the ${fileSize}-byte file`);
    };
    const u8 = (what: string) => (need(1, what), buffer.readUInt8((at += 1) - 1));
    const u32 = (what: string) => (need(4, what), buffer.readUInt32LE((at += 4) - 4));
    const u64 = (what: string) => {
        need(8, what);
        const value = buffer.readBigUInt64LE(at);
        at += 8;
        return value;
    };
    const size = (what: string, max: number) => {
        const value = u64(what);
        if (value > BigInt(max)) fail(`has a corrupt header: ${what} is ${value}, more than a ${fileSize}-byte file can hold`);
        return Number(value);
    };
    const string = (what: string) => {
        const length = size(`the length of ${what}`, fileSize);
        need(length, what);
        const value = buffer.toString("utf8", at, at + length);
        at += length;
        return value;
    };

    if (fileSize < 4) fail(`is not a GGUF file: it is only ${fileSize} bytes long`);
    const magic = buffer.subarray(0, 4);
    if (magic.toString("latin1") !== ggufMagic)
        fail(`is not a GGUF file: it does not start with "GGUF"${describeMagic(magic)}`);
    at = 4;
    const version = u32("the version");
    if (version !== 2 && version !== 3) {
        if ((version & 0xffff) === 0 && [2, 3].includes(buffer.readUInt32BE(4)))
            fail("is a big-endian GGUF file, which llama.cpp cannot load on this machine");
        if (version === 1) fail("is a GGUF version 1 file, which llama.cpp no longer loads");
        fail(`has GGUF version ${version}; only versions 2 and 3 are supported`);
    }
    // Each tensor info takes at least 25 bytes and each key/value pair at least 13, which bounds the counts.
    const tensorCount = size("the tensor count", Math.floor(fileSize / 25));
    const kvCount = size("the metadata count", Math.floor(fileSize / 13));

    const readValue = (type: number, key: string, depth: number): MetadataValue => {
        switch (type) {
            case GGUFValueType.UINT8: return u8(`the value of "${key}"`);
            case GGUFValueType.INT8: return (need(1, key), buffer.readInt8((at += 1) - 1));
            case GGUFValueType.UINT16: return (need(2, key), buffer.readUInt16LE((at += 2) - 2));
            case GGUFValueType.INT16: return (need(2, key), buffer.readInt16LE((at += 2) - 2));
            case GGUFValueType.UINT32: return u32(`the value of "${key}"`);
            case GGUFValueType.INT32: return (need(4, key), buffer.readInt32LE((at += 4) - 4));
            case GGUFValueType.FLOAT32: return (need(4, key), buffer.readFloatLE((at += 4) - 4));
            case GGUFValueType.BOOL: return u8(`the value of "${key}"`) !== 0;
            case GGUFValueType.STRING: return string(`the value of "${key}"`);
            case GGUFValueType.UINT64: return u64(`the value of "${key}"`);
            case GGUFValueType.INT64: return (need(8, key), buffer.readBigInt64LE((at += 8) - 8));
            case GGUFValueType.FLOAT64: return (need(8, key), buffer.readDoubleLE((at += 8) - 8));
            case GGUFValueType.ARRAY: {
                if (depth > 0) fail(`has nested arrays in metadata key "${key}", which llama.cpp does not read`);
                const elementType = u32(`the element type of "${key}"`);
                if (!isValueType(elementType)) fail(`has an array of unknown type ${elementType} in metadata key "${key}"`);
                const count = size(`the length of "${key}"`, fileSize);
                const values: MetadataValue[] = new Array(count);
                for (let i = 0; i < count; i++) values[i] = readValue(elementType, key, depth + 1) as never;
                return values;
            }
            default:
                return fail(`has unknown value type ${type} in metadata key "${key}"`);
        }
    };

    const skipArray = (key: string) => {
        const elementType = u32(`the element type of "${key}"`);
        if (elementType === GGUFValueType.ARRAY) fail(`has nested arrays in metadata key "${key}", which llama.cpp does not read`);
        if (!isValueType(elementType)) fail(`has an array of unknown type ${elementType} in metadata key "${key}"`);
        const count = size(`the length of "${key}"`, fileSize);
        const fixed = fixedValueSizes[elementType];
        if (fixed != null) {
            need(count * fixed, `the values of "${key}"`);
            at += count * fixed;
        } else
            for (let i = 0; i < count; i++) {
                const length = size(`the length of a string in "${key}"`, fileSize);
                need(length, `a string in "${key}"`);
                at += length;
            }
    };

    const keys = new Set<string>();
    const metadata: GgufMetadata = {};
    for (let i = 0; i < kvCount; i++) {
        const key = string(`metadata key ${i + 1} of ${kvCount}`);
        if (keys.has(key)) fail(`has the metadata key "${key}" twice`);
        keys.add(key);
        const type = u32(`the type of "${key}"`);
        if (!isValueType(type)) fail(`has unknown value type ${type} in metadata key "${key}"`);
        if (type === GGUFValueType.ARRAY && !keepArrays) {
            skipArray(key);
            continue;
        }
        const entry: GgufMetadataEntry = { type, value: undefined as never };
        if (type === GGUFValueType.ARRAY) entry.subType = buffer.readUInt32LE(at);
        entry.value = readValue(type, key, 0);
        metadata[key] = entry;
    }

    let alignment = defaultGgufAlignment;
    const alignmentEntry = metadata["general.alignment"];
    if (alignmentEntry != null) {
        const value = alignmentEntry.value;
        if (alignmentEntry.type !== GGUFValueType.UINT32 || typeof value !== "number" || value === 0 || (value & (value - 1)) !== 0)
            fail(`has general.alignment ${String(value)}, which is not a u32 power of two`);
        alignment = value as number;
    }

    const infos: Omit<GgufTensorInfo, "offset" | "byteSize">[] = [];
    const relativeOffsets: number[] = [];
    const names = new Set<string>();
    for (let i = 0; i < tensorCount; i++) {
        const name = string(`the name of tensor ${i + 1} of ${tensorCount}`);
        if (Buffer.byteLength(name) > maxTensorNameBytes) fail(`has a tensor name longer than ${maxTensorNameBytes} bytes ("${name.slice(0, 40)}…")`);
        if (names.has(name)) fail(`has two tensors named "${name}"`);
        names.add(name);
        const dims = u32(`the dimension count of tensor "${name}"`);
        if (dims > maxDims) fail(`has tensor "${name}" with ${dims} dimensions, more than the ${maxDims} ggml supports`);
        const shape: number[] = [];
        for (let d = 0; d < dims; d++) shape.push(size(`dimension ${d} of tensor "${name}"`, fileSize * 8));
        const type = u32(`the type of tensor "${name}"`);
        relativeOffsets.push(size(`the data offset of tensor "${name}"`, fileSize));
        infos.push({ name, shape, type, typeName: ggmlTypeName(type), elements: shape.reduce((a, b) => a * b, 1) });
    }
    const tensorDataOffset = Math.ceil(at / alignment) * alignment;

    const tensors: GgufTensorInfo[] = [];
    let expected = 0;
    for (const [i, info] of infos.entries()) {
        const layout = ggmlTypeLayout(info.type);
        if (layout == null) fail(`has tensor "${info.name}" of unknown ggml type ${info.type} (a newer llama.cpp may know it)`);
        const rowLength = info.shape[0] ?? 1;
        if (rowLength % layout!.blockSize !== 0)
            fail(`has tensor "${info.name}" in ${layout!.name} with rows of ${rowLength} elements, not a multiple of its block size ${layout!.blockSize}`);
        const byteSize = (info.elements / layout!.blockSize) * layout!.typeSize;
        const offset = relativeOffsets[i]!;
        if (offset !== expected)
            fail(`is corrupt: tensor "${info.name}" has its data at offset ${offset}, but llama.cpp expects ${expected} (tensors stored in order, each aligned to ${alignment} bytes)`);
        const start = tensorDataOffset + offset;
        if (start + byteSize > fileSize)
            fail(`is truncated: tensor "${info.name}" needs bytes ${start}–${start + byteSize}, past the end of the ${fileSize}-byte file`);
        tensors.push({ ...info, offset: start, byteSize });
        expected += Math.ceil(byteSize / alignment) * alignment;
    }

    return {
        path,
        version,
        fileSize,
        alignment,
        metadata,
        tensors,
        tensorDataOffset,
        parameterCount: tensors.reduce((sum, t) => sum + t.elements, 0)
    };
}

function isValueType(type: number): type is GGUFValueType {
    return typeof GGUFValueType[type] === "string";
}

/**
 * What a file that is not a GGUF looks like, from well-known signatures only: the bytes themselves
 * are never quoted, since the file may be anything (`/etc/passwd` begins with "root").
 */
function describeMagic(magic: Buffer): string {
    const kinds: [string, string][] = [["504b0304", "a zip archive"], ["25504446", "a PDF"], ["7f454c46", "a program"], ["89504e47", "a PNG image"]];
    const kind = kinds.find(([hex]) => magic.toString("hex") === hex)?.[1];
    return kind == null ? "" : ` (it looks like ${kind})`;
}
