import { GGUFValueType, type MetadataValue } from "@huggingface/gguf";

export { GGUFValueType };

/** One typed key/value pair of a GGUF header. `subType` is the element type of an array. */
export interface GgufMetadataEntry {
    type: GGUFValueType;
    value: MetadataValue;
    subType?: GGUFValueType;
}

/**
 * A GGUF header's key/value pairs, written in insertion order. Types are explicit because GGUF tells
 * u32 from f32 from u64 and llama.cpp refuses a key of the wrong type.
 */
export type GgufMetadata = Record<string, GgufMetadataEntry>;

/** Constructors for typed entries: `{ "llama.block_count": kv.u32(2) }`. */
export const kv = {
    u32: (value: number): GgufMetadataEntry => ({ type: GGUFValueType.UINT32, value }),
    i32: (value: number): GgufMetadataEntry => ({ type: GGUFValueType.INT32, value }),
    u64: (value: number | bigint): GgufMetadataEntry => ({ type: GGUFValueType.UINT64, value: BigInt(value) }),
    f32: (value: number): GgufMetadataEntry => ({ type: GGUFValueType.FLOAT32, value }),
    bool: (value: boolean): GgufMetadataEntry => ({ type: GGUFValueType.BOOL, value }),
    string: (value: string): GgufMetadataEntry => ({ type: GGUFValueType.STRING, value }),
    strings: (value: readonly string[]): GgufMetadataEntry => ({ type: GGUFValueType.ARRAY, subType: GGUFValueType.STRING, value: [...value] }),
    f32s: (value: readonly number[]): GgufMetadataEntry => ({ type: GGUFValueType.ARRAY, subType: GGUFValueType.FLOAT32, value: [...value] }),
    i32s: (value: readonly number[]): GgufMetadataEntry => ({ type: GGUFValueType.ARRAY, subType: GGUFValueType.INT32, value: [...value] })
};

/** A numeric value (any integer or float type, bigints narrowed), or undefined if absent or not a number. */
export function metadataNumber(metadata: GgufMetadata, key: string): number | undefined {
    const value = metadata[key]?.value;
    if (typeof value === "number") return value;
    if (typeof value === "bigint" && value <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(value);
    return undefined;
}

/** A string value, or undefined if absent or not a string. */
export function metadataString(metadata: GgufMetadata, key: string): string | undefined {
    const value = metadata[key]?.value;
    return typeof value === "string" ? value : undefined;
}

/** An array value, or undefined if absent or not an array. */
export function metadataArray(metadata: GgufMetadata, key: string): MetadataValue[] | undefined {
    const value = metadata[key]?.value;
    return Array.isArray(value) ? value : undefined;
}
