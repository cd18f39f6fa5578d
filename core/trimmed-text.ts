/**
 * Streams text so that the pieces join to the trimmed whole: leading whitespace is dropped and
 * whitespace is held back until more text follows it (what is left at the end is dropped). Chat
 * answers are trimmed, and a streamed answer must read exactly like the same answer unstreamed.
 */
export class TrimmedText {
    private started = false;
    private held = "";

    constructor(private readonly emit: (piece: string) => void) {}

    push(text: string): void {
        if (!this.started) {
            text = text.trimStart();
            if (text === "") return;
            this.started = true;
        }
        const trailing = /\s*$/.exec(text)![0];
        const body = text.slice(0, text.length - trailing.length);
        if (body === "") {
            this.held += trailing;
            return;
        }
        this.emit(this.held + body);
        this.held = trailing;
    }
}
