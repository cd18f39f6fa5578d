/**
 * ggml tensor types as stored in GGUF tensor infos, with their block layout. The ids are ggml's
 * `enum ggml_type`; removed ids (4, 5, 31–33, 36–38) are absent on purpose: llama.cpp refuses them.
 */
export const GgmlType = {
    F32: 0,
    F16: 1,
    Q4_0: 2,
    Q4_1: 3,
    Q5_0: 6,
    Q5_1: 7,
    Q8_0: 8,
    Q8_1: 9,
    Q2_K: 10,
    Q3_K: 11,
    Q4_K: 12,
    Q5_K: 13,
    Q6_K: 14,
    Q8_K: 15,
    IQ2_XXS: 16,
    IQ2_XS: 17,
    IQ3_XXS: 18,
    IQ1_S: 19,
    IQ4_NL: 20,
    IQ3_S: 21,
    IQ2_S: 22,
    IQ4_XS: 23,
    I8: 24,
    I16: 25,
    I32: 26,
    I64: 27,
    F64: 28,
    IQ1_M: 29,
    BF16: 30,
    TQ1_0: 34,
    TQ2_0: 35,
    MXFP4: 39,
    NVFP4: 40,
    Q1_0: 41,
    Q2_0: 42
} as const;

export type GgmlType = (typeof GgmlType)[keyof typeof GgmlType];

export type GgmlTypeName = keyof typeof GgmlType;

/** How a type packs elements: `blockSize` elements take `typeSize` bytes (ggml's type_traits). */
export interface GgmlTypeLayout {
    readonly name: GgmlTypeName;
    readonly blockSize: number;
    readonly typeSize: number;
}

const layouts: Record<GgmlType, [blockSize: number, typeSize: number]> = {
    [GgmlType.F32]: [1, 4],
    [GgmlType.F16]: [1, 2],
    [GgmlType.Q4_0]: [32, 18],
    [GgmlType.Q4_1]: [32, 20],
    [GgmlType.Q5_0]: [32, 22],
    [GgmlType.Q5_1]: [32, 24],
    [GgmlType.Q8_0]: [32, 34],
    [GgmlType.Q8_1]: [32, 36],
    [GgmlType.Q2_K]: [256, 84],
    [GgmlType.Q3_K]: [256, 110],
    [GgmlType.Q4_K]: [256, 144],
    [GgmlType.Q5_K]: [256, 176],
    [GgmlType.Q6_K]: [256, 210],
    [GgmlType.Q8_K]: [256, 292],
    [GgmlType.IQ2_XXS]: [256, 66],
    [GgmlType.IQ2_XS]: [256, 74],
    [GgmlType.IQ3_XXS]: [256, 98],
    [GgmlType.IQ1_S]: [256, 50],
    [GgmlType.IQ4_NL]: [32, 18],
    [GgmlType.IQ3_S]: [256, 110],
    [GgmlType.IQ2_S]: [256, 82],
    [GgmlType.IQ4_XS]: [256, 136],
    [GgmlType.I8]: [1, 1],
    [GgmlType.I16]: [1, 2],
    [GgmlType.I32]: [1, 4],
    [GgmlType.I64]: [1, 8],
    [GgmlType.F64]: [1, 8],
    [GgmlType.IQ1_M]: [256, 56],
    [GgmlType.BF16]: [1, 2],
    [GgmlType.TQ1_0]: [256, 54],
    [GgmlType.TQ2_0]: [256, 66],
    [GgmlType.MXFP4]: [32, 17],
    [GgmlType.NVFP4]: [64, 36],
    [GgmlType.Q1_0]: [128, 18],
    [GgmlType.Q2_0]: [64, 18]
};

const namesById = new Map<number, GgmlTypeName>(Object.entries(GgmlType).map(([name, id]) => [id, name as GgmlTypeName]));

/** The layout of a type id, or undefined for ids this build does not know (removed or newer than us). */
export function ggmlTypeLayout(type: number): GgmlTypeLayout | undefined {
    const name = namesById.get(type);
    if (name == null) return undefined;
    const [blockSize, typeSize] = layouts[type as GgmlType];
    return { name, blockSize, typeSize };
}

/** A readable name for any type id, known or not. */
export function ggmlTypeName(type: number): string {
    return namesById.get(type) ?? `unknown type ${type}`;
}

/** Bytes a tensor of `shape` takes in `type` (ggml_nbytes for a contiguous tensor). */
export function tensorByteSize(type: GgmlType, shape: readonly number[]): number {
    const layout = ggmlTypeLayout(type);
    if (layout == null) throw new RangeError(`unknown ggml type ${type}`);
    const [rowLength = 1, ...rest] = shape;
    if (rowLength % layout.blockSize !== 0)
        throw new RangeError(`a ${layout.name} row needs a multiple of ${layout.blockSize} elements, got ${rowLength}`);
    const rows = rest.reduce((a, b) => a * b, 1);
    return (rowLength / layout.blockSize) * layout.typeSize * rows;
}

/** Elements in a tensor of `shape`. */
export function elementCount(shape: readonly number[]): number {
    return shape.reduce((a, b) => a * b, 1);
}
