import type { LlamaModel } from "node-llama-cpp";

/**
 * Yields to the event loop once a stretch of synchronous work has run for a few milliseconds, so
 * that long tokenizing (llama.cpp's is synchronous) does not stall a server's other requests.
 */
export class Pauser {
    private since = performance.now();

    constructor(private readonly everyMs = 8) {}

    /** Call before each piece of synchronous work. */
    async maybe(): Promise<void> {
        if (performance.now() - this.since < this.everyMs) return;
        await new Promise<void>((resolve) => setImmediate(resolve));
        this.since = performance.now();
    }
}

/**
 * Texts are tokenized in slices this long: a huge one is given up on early, with a pause between
 * slices (llama.cpp's SentencePiece tokenizer needs ~10 ms for 4 KiB on a busy 2-core CPU).
 */
const sliceChars = 4 * 1024;

/**
 * The tokens of `text` (no special tokens), counted a slice at a time; slice edges may shift a
 * token or two, so it is an estimate. Stops once the count passes `limit` (`whole` false then).
 */
export async function countTokens(model: LlamaModel, text: string, limit: number, pause = new Pauser()): Promise<{ count: number; whole: boolean }> {
    let count = 0;
    for (let from = 0; from < text.length;) {
        let to = Math.min(text.length, from + sliceChars);
        // Cut at a space where there is one, where tokenizers split anyway.
        if (to < text.length) {
            const space = text.lastIndexOf(" ", to);
            if (space > from) to = space;
        }
        await pause.maybe();
        count += model.tokenize(text.slice(from, to), false).length;
        from = to;
        if (count > limit && from < text.length) return { count, whole: false };
    }
    return { count, whole: true };
}
