import { sourceLabels } from "./sources.ts";
import { spanTitle, stepSpans } from "./step-spans.ts";
import type { StepEvent } from "./types.ts";

/**
 * Puts streamed answer text on screen by appending to the DOM, never rebuilding it: a long answer
 * costs per frame only what arrived in that frame. Text goes into blocks of a few thousand characters
 * (cut at a newline) so that the browser lays out only the last block again.
 * With `colour` on, each step's text is a span coloured by the drafter that guessed it.
 */
export class StreamRenderer {
    private block: HTMLElement | null = null;
    private blockChars = 0;
    private plainNode: Text | null = null;

    constructor(private readonly container: HTMLElement, private colour: boolean, private readonly blockChars_ = 3000) {}

    /** Clears and renders `steps` again (after the colour toggle changed). */
    reset(steps: readonly StepEvent[], colour: boolean): void {
        this.colour = colour;
        this.container.replaceChildren();
        this.block = null;
        this.blockChars = 0;
        this.plainNode = null;
        this.appendSteps(steps);
    }

    appendSteps(steps: readonly StepEvent[]): void {
        if (!this.colour) {
            let text = "";
            for (const step of steps) text += step.text;
            this.appendText(text);
            return;
        }
        const doc = this.container.ownerDocument;
        for (const step of steps)
            for (const span of stepSpans(step)) {
                if (span.source == null) {
                    this.appendText(span.text);
                    continue;
                }
                this.appendPieces(span.text, (text) => {
                    const el = doc.createElement("span");
                    el.className = `tok src-${span.source} tok-${span.kind}`;
                    el.title = spanTitle(span, (s) => sourceLabels[s]);
                    el.textContent = text;
                    return el;
                });
            }
    }

    /** Appends uncoloured text. */
    appendText(text: string): void {
        if (text === "") return;
        this.appendPieces(text, null);
    }

    private appendPieces(text: string, make: ((text: string) => HTMLElement) | null): void {
        // Start a new block at a newline once the current one is long.
        if (this.blockChars + text.length > this.blockChars_) {
            const nl = text.indexOf("\n", Math.max(0, this.blockChars_ - this.blockChars));
            const cut = nl >= 0 ? nl : this.blockChars > this.blockChars_ * 4 ? -2 : -1;
            if (cut >= 0 || cut === -2) {
                const before = cut >= 0 ? text.slice(0, cut) : "";
                const after = cut >= 0 ? text.slice(cut + 1) : text;
                if (before !== "") this.put(before, make);
                this.newBlock(cut >= 0);
                if (after !== "") this.put(after, make);
                return;
            }
        }
        this.put(text, make);
    }

    private put(text: string, make: ((text: string) => HTMLElement) | null): void {
        const block = this.block ?? this.newBlock(false);
        if (make == null) {
            if (this.plainNode == null) {
                this.plainNode = this.container.ownerDocument.createTextNode("");
                block.appendChild(this.plainNode);
            }
            this.plainNode.appendData(text);
        } else {
            block.appendChild(make(text));
            this.plainNode = null;
        }
        this.blockChars += text.length;
    }

    /** `afterNewline`: the block boundary stands for a newline; else the text just continues. */
    private newBlock(afterNewline: boolean): HTMLElement {
        const el = this.container.ownerDocument.createElement("div");
        el.className = afterNewline || this.block == null ? "stream-block" : "stream-block stream-cont";
        this.container.appendChild(el);
        this.block = el;
        this.blockChars = 0;
        this.plainNode = null;
        return el;
    }
}
