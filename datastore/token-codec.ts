import type { TokenArray } from "./index/suffix-array.ts";

/**
 * Token streams are stored as little-endian 16- or 32-bit blobs. Typed arrays use the machine's
 * byte order; every platform Presage ships on (x64, arm64) is little-endian, which this checks once.
 */
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
if (!littleEndian) throw new Error("Presage's datastore needs a little-endian machine.");

/** The bytes of a token array, without copying. */
export function encodeTokens(tokens: TokenArray | Int32Array): Buffer {
    return Buffer.from(tokens.buffer, tokens.byteOffset, tokens.byteLength);
}

/**
 * A typed array over a stored blob. Blobs from SQLite may sit at any byte offset, so they are copied
 * into a fresh, aligned array.
 */
export function decodeTokens(blob: Uint8Array, width: 2 | 4): TokenArray {
    const out = width === 2 ? new Uint16Array(blob.byteLength >>> 1) : new Uint32Array(blob.byteLength >>> 2);
    new Uint8Array(out.buffer).set(blob.subarray(0, out.byteLength));
    return out;
}

/** Copies a blob's bytes into `target` (a typed array) starting at element `at`. */
export function copyBlobInto(blob: Uint8Array, target: TokenArray | Int32Array, at: number): void {
    new Uint8Array(target.buffer, target.byteOffset + at * target.BYTES_PER_ELEMENT, blob.byteLength).set(blob);
}

/** Converts plain token ids to a stream of the given width. */
export function toTokenArray(tokens: ArrayLike<number>, width: 2 | 4): TokenArray {
    return width === 2 ? Uint16Array.from(tokens) : Uint32Array.from(tokens);
}
