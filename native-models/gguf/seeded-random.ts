/**
 * A small deterministic PRNG (mulberry32) for synthetic weights. Only integer arithmetic and one
 * division by 2^32, so the same seed gives the same bits on every machine and Node version; that is
 * what makes "same seed, byte-identical file" hold (Math.random, or Box–Muller through Math.log and
 * Math.cos, would not promise it).
 */
export class SeededRandom {
    private state: number;

    /** `stream` names an independent sequence under the same seed (e.g. a tensor name), so one
     * tensor's values never depend on how many numbers another tensor drew. */
    constructor(seed: number, stream = "") {
        let hash = 0x811c9dc5; // FNV-1a over the stream name
        for (let i = 0; i < stream.length; i++) hash = Math.imul(hash ^ stream.charCodeAt(i), 0x01000193);
        this.state = (hash ^ Math.imul(seed >>> 0, 0x9e3779b1)) >>> 0;
    }

    /** Uniform in [0, 1). */
    next(): number {
        let a = (this.state = (this.state + 0x6d2b79f5) | 0);
        a = Math.imul(a ^ (a >>> 15), 1 | a);
        a = (a + Math.imul(a ^ (a >>> 7), 61 | a)) ^ a;
        return ((a ^ (a >>> 14)) >>> 0) / 4294967296;
    }

    /** Uniform with mean 0 and standard deviation `std` (uniform rather than Gaussian: see the class comment). */
    uniform(std: number): number {
        return (this.next() * 2 - 1) * std * Math.sqrt(3);
    }

    /** Fills `out[start..end)` with `uniform(std)` values. */
    fillUniform(out: Float32Array, std: number, start = 0, end = out.length): Float32Array {
        const scale = 2 * std * Math.sqrt(3);
        const shift = std * Math.sqrt(3);
        for (let i = start; i < end; i++) out[i] = this.next() * scale - shift;
        return out;
    }
}
