import { mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { describeWithStories } from "../testing/stories.ts";
import { float16BitsToFloat32, float32ToFloat16Bits } from "./float16.ts";
import { GgmlType, tensorByteSize } from "./ggml-types.ts";
import { GgufFormatError } from "./gguf-error.ts";
import { GGUFValueType, kv } from "./gguf-metadata.ts";
import { readGgufFile, readTensorBytes, readTensorFloat32, requireTensor, validateGgufFile } from "./gguf-reader.ts";
import { writeGgufFile, type GgufTensorInput } from "./gguf-writer.ts";

const dir = mkdtempSync(join(tmpdir(), "presage-gguf-rw-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const values = (n: number, f: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => f(i));

/** A small valid file: two F32 tensors, one F16, one BF16, odd sizes so padding matters. */
async function writeSample(path: string, extra: Partial<{ alignment: number; tensors: GgufTensorInput[] }> = {}) {
    return writeGgufFile(path, {
        metadata: {
            "general.architecture": kv.string("llama"),
            ...(extra.alignment != null ? { "general.alignment": kv.u32(extra.alignment) } : {}),
            "test.u64": kv.u64(2n ** 40n),
            "test.f32": kv.f32(0.5),
            "test.bool": kv.bool(true),
            "test.strings": kv.strings(["a", "▁b", "<0x0A>"]),
            "test.ints": kv.i32s([-1, 2, 3])
        },
        tensors: extra.tensors ?? [
            { name: "a.weight", shape: [3], type: GgmlType.F32, data: values(3, (i) => i + 0.25) },
            { name: "b.weight", shape: [5, 2], type: GgmlType.F16, data: values(10, (i) => i / 8 - 0.5) },
            { name: "c.weight", shape: [7], type: GgmlType.BF16, data: () => values(7, (i) => 2 ** i) },
            { name: "d.weight", shape: [2, 2], type: GgmlType.F32, data: values(4, (i) => -i) }
        ]
    });
}

function expectFormatError(run: () => Promise<unknown>, path: string, pattern: RegExp) {
    return run().then(
        () => expect.unreachable("expected a GgufFormatError"),
        (err: unknown) => {
            expect(err).toBeInstanceOf(GgufFormatError);
            const message = (err as Error).message;
            expect(message).toContain(path);
            expect(message).toMatch(pattern);
            expect(message).not.toContain("\n");
        }
    );
}

describe("float16", () => {
    it("rounds to nearest even and keeps special values", () => {
        for (const x of [0, 1, -2, 0.5, 65504, 2 ** -24, 2 ** -14, 1 / 3, 1e-3])
            expect(float16BitsToFloat32(float32ToFloat16Bits(x))).toBeCloseTo(x, 3);
        expect(float32ToFloat16Bits(1 + 2 ** -11)).toBe(0x3c00); // halfway: ties to even (down)
        expect(float32ToFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // halfway: ties to even (up)
        expect(float32ToFloat16Bits(1e6)).toBe(0x7c00);
        expect(float32ToFloat16Bits(-Infinity)).toBe(0xfc00);
        expect(Number.isNaN(float16BitsToFloat32(float32ToFloat16Bits(NaN)))).toBe(true);
        expect(float32ToFloat16Bits(2 ** -26)).toBe(0); // below half the smallest subnormal
        expect(float32ToFloat16Bits(-0)).toBe(0x8000);
    });
});

describe("writeGgufFile / readGgufFile", () => {
    it("round-trips metadata, shapes, offsets and F32/F16/BF16 values", async () => {
        const path = join(dir, "sample.gguf");
        const written = await writeSample(path);
        const file = await readGgufFile(path);
        expect(file.version).toBe(3);
        expect(file.alignment).toBe(32);
        expect(file.fileSize).toBe(written.bytes);
        expect(file.tensorDataOffset).toBe(written.tensorDataOffset);
        expect(file.tensorDataOffset % 32).toBe(0);
        expect(file.parameterCount).toBe(3 + 10 + 7 + 4);
        expect(file.metadata["test.u64"]).toEqual({ type: GGUFValueType.UINT64, value: 2n ** 40n });
        expect(file.metadata["test.f32"]!.value).toBe(0.5);
        expect(file.metadata["test.bool"]!.value).toBe(true);
        expect(file.metadata["test.strings"]).toEqual({ type: GGUFValueType.ARRAY, subType: GGUFValueType.STRING, value: ["a", "▁b", "<0x0A>"] });
        expect(file.metadata["test.ints"]!.value).toEqual([-1, 2, 3]);
        expect(file.tensors.map((t) => [t.name, t.shape, t.typeName])).toEqual([
            ["a.weight", [3], "F32"],
            ["b.weight", [5, 2], "F16"],
            ["c.weight", [7], "BF16"],
            ["d.weight", [2, 2], "F32"]
        ]);
        for (const t of file.tensors) expect((t.offset - file.tensorDataOffset) % 32).toBe(0);
        expect([...(await readTensorFloat32(file, requireTensor(file, "a.weight")))]).toEqual([0.25, 1.25, 2.25]);
        expect([...(await readTensorFloat32(file, requireTensor(file, "b.weight")))]).toEqual([...values(10, (i) => i / 8 - 0.5)]);
        expect([...(await readTensorFloat32(file, requireTensor(file, "c.weight")))]).toEqual([1, 2, 4, 8, 16, 32, 64]);
        expect([...(await readTensorFloat32(file, requireTensor(file, "d.weight")))]).toEqual([-0, -1, -2, -3]);
    });

    it("honours general.alignment", async () => {
        const path = join(dir, "aligned.gguf");
        await writeSample(path, { alignment: 64 });
        const file = await readGgufFile(path);
        expect(file.alignment).toBe(64);
        expect(file.tensorDataOffset % 64).toBe(0);
        for (const t of file.tensors) expect((t.offset - file.tensorDataOffset) % 64).toBe(0);
    });

    it("writes atomically: a failure leaves the old file and no partial file", async () => {
        const sub = mkdtempSync(join(dir, "atomic-"));
        const path = join(sub, "model.gguf");
        writeFileSync(path, "old contents");
        const failing: GgufTensorInput = {
            name: "late.weight",
            shape: [4],
            type: GgmlType.F32,
            data: () => {
                throw new Error("producer failed");
            }
        };
        await expect(writeSample(path, { tensors: [{ name: "x", shape: [1], type: GgmlType.F32, data: values(1, () => 1) }, failing] })).rejects.toThrow(
            "producer failed"
        );
        expect(readFileSync(path, "utf8")).toBe("old contents");
        expect(readdirSync(sub)).toEqual(["model.gguf"]);
    });

    it("refuses data of the wrong length and bad tensor names", async () => {
        const path = join(dir, "bad-input.gguf");
        await expect(writeSample(path, { tensors: [{ name: "x", shape: [4], type: GgmlType.F32, data: values(3, () => 0) }] })).rejects.toThrow(/3 values/);
        await expect(writeSample(path, { tensors: [{ name: "x".repeat(64), shape: [4], type: GgmlType.F32, data: values(4, () => 0) }] })).rejects.toThrow(
            /tensor name/
        );
    });
});

describe("malformed GGUF files", () => {
    it("names a missing file, a folder, an empty file and wrong magic", async () => {
        const missing = join(dir, "missing.gguf");
        await expectFormatError(() => validateGgufFile(missing), missing, /does not exist/);
        await expectFormatError(() => validateGgufFile(dir), dir, /is a folder/);
        const empty = join(dir, "empty.gguf");
        writeFileSync(empty, "");
        await expectFormatError(() => validateGgufFile(empty), empty, /not a GGUF file: it is only 0 bytes/);
        const zip = join(dir, "model.zip.gguf");
        writeFileSync(zip, Buffer.from("PK\x03\x04 not a model at all", "latin1"));
        await expectFormatError(() => validateGgufFile(zip), zip, /not a GGUF file: it does not start with "GGUF" \(it looks like a zip archive\)/);
    });

    it("reports a truncated header", async () => {
        const path = join(dir, "truncated-header.gguf");
        await writeSample(path);
        // Cut inside the string array, which validation walks without keeping and reading decodes.
        const cut = readFileSync(path).indexOf(Buffer.from("▁b")) + 1;
        truncateSync(path, cut);
        await expectFormatError(() => validateGgufFile(path), path, /is truncated: a string in "test.strings" at byte \d+ runs past the end of the \d+-byte file/);
        await expectFormatError(() => readGgufFile(path), path, /is truncated: the value of "test.strings" at byte \d+ runs past the end/);
        // Cut inside the last tensor info.
        const withInfos = join(dir, "truncated-infos.gguf");
        await writeSample(withInfos);
        truncateSync(withInfos, readFileSync(withInfos).indexOf(Buffer.from("d.weight")) + 12);
        await expectFormatError(() => validateGgufFile(withInfos), withInfos, /is truncated: .*tensor "d.weight" at byte \d+ runs past the end of the \d+-byte file/);
    });

    it("reports tensor data past the end of the file", async () => {
        const path = join(dir, "truncated-data.gguf");
        const written = await writeSample(path);
        truncateSync(path, written.bytes - 40);
        await expectFormatError(() => validateGgufFile(path), path, /is truncated: tensor "d.weight" needs bytes \d+–\d+, past the end of the \d+-byte file/);
    });

    it("reports unsupported versions, big-endian files, bad offsets and unknown types", async () => {
        const path = join(dir, "patched.gguf");
        const written = await writeSample(path);
        const original = readFileSync(path);
        const patched = (name: string, patch: (b: Buffer) => void) => {
            const copy = Buffer.from(original);
            patch(copy);
            const p = join(dir, name);
            writeFileSync(p, copy);
            return p;
        };
        const v1 = patched("v1.gguf", (b) => b.writeUInt32LE(1, 4));
        await expectFormatError(() => validateGgufFile(v1), v1, /version 1/);
        const v9 = patched("v9.gguf", (b) => b.writeUInt32LE(9, 4));
        await expectFormatError(() => validateGgufFile(v9), v9, /GGUF version 9; only versions 2 and 3/);
        const be = patched("be.gguf", (b) => b.writeUInt32BE(3, 4));
        await expectFormatError(() => validateGgufFile(be), be, /big-endian/);

        // The last tensor info ends right before the padding: its offset is the last 8 bytes, its type the 4 before.
        const file = await readGgufFile(path);
        const infoEnd = original.indexOf(Buffer.from("d.weight")) + "d.weight".length + 4 + 2 * 8 + 4 + 8;
        expect(infoEnd).toBeLessThanOrEqual(file.tensorDataOffset);
        const badOffset = patched("offset.gguf", (b) => b.writeBigUInt64LE(BigInt(written.bytes), infoEnd - 8));
        await expectFormatError(() => validateGgufFile(badOffset), badOffset, /is corrupt: tensor "d.weight" has its data at offset/);
        const unknownType = patched("type.gguf", (b) => b.writeUInt32LE(4, infoEnd - 12));
        await expectFormatError(() => validateGgufFile(unknownType), unknownType, /tensor "d.weight" of unknown ggml type 4/);
        const hugeCount = patched("count.gguf", (b) => b.writeBigUInt64LE(2n ** 60n, 8));
        await expectFormatError(() => validateGgufFile(hugeCount), hugeCount, /corrupt header: the tensor count/);
    });

    it("refuses to read quantized tensors as floats, but reads their bytes", async () => {
        const path = join(dir, "q4.gguf");
        const q4Bytes = new Uint8Array(tensorByteSize(GgmlType.Q4_0, [64, 2])).fill(7);
        await writeSample(path, { tensors: [{ name: "q.weight", shape: [64, 2], type: GgmlType.Q4_0, data: q4Bytes }] });
        const file = await readGgufFile(path);
        const tensor = requireTensor(file, "q.weight");
        expect(tensor.byteSize).toBe(72);
        expect(await readTensorBytes(file, tensor)).toEqual(q4Bytes);
        await expectFormatError(() => readTensorFloat32(file, tensor), path, /tensor "q.weight" in Q4_0, which this transform cannot use/);
    });
});

describeWithStories("GGUF round trip of stories260K", (storiesPath) => {
    it("reads and rewrites the trained model byte for byte", async () => {
        const validated = await validateGgufFile(storiesPath);
        expect(validated.tensors).toHaveLength(48);
        expect(validated.metadata["tokenizer.ggml.tokens"]).toBeUndefined(); // walked, not kept
        const file = await readGgufFile(storiesPath);
        expect(file.parameterCount).toBe(292_800);
        const out = join(dir, "stories-copy.gguf");
        await writeGgufFile(out, {
            metadata: file.metadata,
            tensors: file.tensors.map((t) => ({ name: t.name, shape: t.shape, type: t.type as GgmlType, data: () => readTensorBytes(file, t) }))
        });
        expect(readFileSync(out).equals(readFileSync(storiesPath))).toBe(true);
    });
});
