import type { LlamaModel, Token } from "node-llama-cpp";

/** Tokens detokenized before new ones so that their leading space and merges come out right. */
const contextTokens = 8;
/** New tokens gathered before their text is taken as final. */
const commitEvery = 16;

/**
 * Turns the growing output token list into text for the user: text deltas to stream, and where a stop
 * string ends the answer. Text is held back while it could still become a stop string, and while it ends
 * in half a UTF-8 character (byte-fallback tokens spell one character over several tokens).
 */
export class TextStream {
    private emitted = 0;
    private text = "";
    /** Once a stop string is found the text is final: the tokens then end mid-token of the cut. */
    private stopped = false;

    constructor(private readonly model: LlamaModel, private readonly stopStrings: readonly string[] = []) {}

    /** Length of the output the text was last made from: the stop check and the stream share it. */
    private length = -1;
    /**
     * Tokens whose text is final, and that text: each step detokenizes only what came after them (with
     * a few tokens before for context), so streaming a long answer costs the same per step at its end
     * as at its start, not a whole-answer detokenization every step.
     */
    private committed = 0;
    private committedText = "";

    /** The full text of `output` (the decoder's growing list). */
    update(output: readonly Token[]): string {
        if (this.stopped || output.length === this.length) return this.text;
        if (output.length < this.committed) {
            this.committed = 0;
            this.committedText = "";
        }
        const tail = output.slice(this.committed) as Token[];
        const context = output.slice(Math.max(0, this.committed - contextTokens), this.committed) as Token[];
        const tailText = this.model.detokenize(tail, false, context);
        this.text = this.committedText + tailText;
        this.length = output.length;
        // Half a UTF-8 character (U+FFFD) may still be completed by the next token: commit only whole text.
        if (tail.length >= commitEvery && !tailText.endsWith("\uFFFD")) {
            this.committed = output.length;
            this.committedText = this.text;
        }
        return this.text;
    }

    /** Token count to cut `output` at if a stop string appeared, else undefined. Call after update(). */
    stopAt(output: readonly Token[]): number | undefined {
        if (this.stopped) return undefined;
        let index = -1;
        for (const stop of this.stopStrings) {
            const i = this.text.indexOf(stop);
            if (i >= 0 && (index < 0 || i < index)) index = i;
        }
        if (index < 0) return undefined;
        let n = output.length;
        while (n > 0 && this.model.detokenize(output.slice(0, n) as Token[]).length > index) n--;
        this.text = this.text.slice(0, index);
        this.stopped = true;
        return n;
    }

    /** Text not yet streamed that is safe to show now. */
    delta(final = false): string {
        let end = this.text.length;
        if (!final) {
            while (end > this.emitted && this.text.charCodeAt(end - 1) === 0xfffd) end--;
            for (const stop of this.stopStrings)
                for (let k = Math.min(stop.length - 1, end - this.emitted); k > 0; k--)
                    if (this.text.endsWith(stop.slice(0, k), end)) {
                        end -= k;
                        break;
                    }
        }
        if (end <= this.emitted) return "";
        const out = this.text.slice(this.emitted, end);
        this.emitted = end;
        return out;
    }

    get fullText(): string {
        return this.text;
    }
}

/** Tokens detokenized before a step's own, so that the first one's leading space and merges come out right. */
const pieceContextTokens = 8;

/**
 * The share of each of the last `count` tokens of `output` in `text`, the step's streamed delta (what the
 * window colours by source), or undefined when they cannot be made to add up to it. A character spelled
 * over several tokens (byte-level BPE, byte fallback) belongs whole to the token that completes it, never
 * half to each: detokenizing one token alone would give half a character (U+FFFD) there. Text held back
 * from an earlier step (it could have begun a stop string) is streamed with this step's first token, and
 * text held back now is left out, as the delta leaves it out.
 */
export function tokenPieces(model: LlamaModel, output: readonly Token[], count: number, text: string): string[] | undefined {
    if (count <= 0 || text.length === 0 || count > output.length) return undefined;
    const start = output.length - count;
    const from = Math.max(0, start - pieceContextTokens);
    // Text of the context plus the first j step tokens, without a half character at its end.
    const whole = (j: number) => {
        const t = model.detokenize(output.slice(from, start + j) as Token[], false);
        let end = t.length;
        while (end > 0 && t.charCodeAt(end - 1) === 0xfffd) end--;
        return t.slice(0, end);
    };
    let before = whole(0);
    const pieces: string[] = [];
    for (let j = 1; j <= count; j++) {
        const now = whole(j);
        if (!now.startsWith(before)) return undefined;
        pieces.push(now.slice(before.length));
        before = now;
    }
    const joined = pieces.join("");
    if (joined === text) return pieces;
    // The delta held some of this step's text back, or brought some of an earlier step's: the longest m
    // such that the delta ends with the first m characters of the step's text.
    for (let m = Math.min(joined.length, text.length); m > 0; m--) {
        if (!text.endsWith(joined.slice(0, m))) continue;
        const cut: string[] = [];
        let left = m;
        for (const piece of pieces) {
            cut.push(piece.slice(0, Math.max(0, left)));
            left -= piece.length;
        }
        cut[0] = text.slice(0, text.length - m) + cut[0];
        return cut;
    }
    return undefined;
}
