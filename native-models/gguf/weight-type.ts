import { GgmlType, ggmlTypeLayout } from "./ggml-types.ts";

/** The storage types our writer can produce for weight matrices (`--type`). */
export const weightTypeNames = ["f32", "f16", "q8_0", "q4_0", "q4_k"] as const;

export type WeightTypeName = (typeof weightTypeNames)[number];

const ggmlTypes: Record<WeightTypeName, GgmlType> = {
    f32: GgmlType.F32,
    f16: GgmlType.F16,
    q8_0: GgmlType.Q8_0,
    q4_0: GgmlType.Q4_0,
    q4_k: GgmlType.Q4_K
};

/**
 * llama.cpp's `general.file_type` (enum llama_ftype) for a file whose matrices are mostly this type:
 * ALL_F32 0, MOSTLY_F16 1, MOSTLY_Q4_0 2, MOSTLY_Q8_0 7, MOSTLY_Q4_K_S 14 (every matrix Q4_K, as
 * `llama-quantize … Q4_K_S` does apart from its few Q5_K/Q6_K exceptions, which we do not make).
 */
const fileTypes: Record<WeightTypeName, number> = { f32: 0, f16: 1, q8_0: 7, q4_0: 2, q4_k: 14 };

/** Whether `text` names a type the writer supports. */
export function isWeightTypeName(text: string): text is WeightTypeName {
    return (weightTypeNames as readonly string[]).includes(text);
}

/** The name as given, or a RangeError with the one-line list of what is supported. */
export function parseWeightType(text: string): WeightTypeName {
    if (isWeightTypeName(text)) return text;
    throw new RangeError(`the writer cannot store weights as "${text}": use ${weightTypeNames.join(", ")}`);
}

/** The `general.file_type` value for a model written with this weight type. */
export function fileTypeOf(name: WeightTypeName): number {
    return fileTypes[name];
}

/**
 * The ggml type a weight matrix with rows of `rowLength` values is stored in. A row that does not fit
 * the type's blocks falls back as llama.cpp's quantizer does (`tensor_type_fallback`): Q4_K (blocks of
 * 256) to Q5_0, and a 32-block type whose rows are not a multiple of 32 to F16.
 */
export function matrixTypeFor(name: WeightTypeName, rowLength: number): GgmlType {
    let type = ggmlTypes[name];
    if (rowLength % ggmlTypeLayout(type)!.blockSize !== 0 && type === GgmlType.Q4_K) type = GgmlType.Q5_0;
    if (rowLength % ggmlTypeLayout(type)!.blockSize !== 0) type = GgmlType.F16;
    return type;
}
