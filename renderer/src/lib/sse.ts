/** One server-sent event: its `event:` name (default "message") and its `data:` lines joined. */
export interface SseMessage {
    event: string;
    data: string;
}

/**
 * Parses a server-sent event stream (text/event-stream) incrementally. Feed it decoded text chunks in
 * order; it calls `onMessage` for each complete event. Comments (": ...") and `id:`/`retry:` are ignored.
 */
export class SseParser {
    private buffer = "";
    private event = "";
    private data: string[] = [];

    constructor(private readonly onMessage: (message: SseMessage) => void) {}

    push(chunk: string): void {
        this.buffer += chunk;
        let start = 0;
        for (;;) {
            const nl = this.buffer.indexOf("\n", start);
            if (nl < 0) break;
            let line = this.buffer.slice(start, nl);
            if (line.endsWith("\r")) line = line.slice(0, -1);
            start = nl + 1;
            this.line(line);
        }
        this.buffer = this.buffer.slice(start);
    }

    /** Ends the stream: a last event without its blank line is still delivered. */
    end(): void {
        if (this.buffer.length > 0) this.line(this.buffer);
        this.buffer = "";
        this.line("");
    }

    private line(line: string): void {
        if (line === "") {
            if (this.data.length > 0) this.onMessage({ event: this.event || "message", data: this.data.join("\n") });
            this.event = "";
            this.data = [];
            return;
        }
        if (line.startsWith(":")) return;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "event") this.event = value;
        else if (field === "data") this.data.push(value);
    }
}

/** Reads a fetch response body as SSE until it ends (abort the fetch to stop early). */
export async function readSse(body: ReadableStream<Uint8Array>, onMessage: (message: SseMessage) => void): Promise<void> {
    const parser = new SseParser(onMessage);
    const decoder = new TextDecoder();
    const reader = body.getReader();
    try {
        for (;;) {
            const { value, done } = await reader.read();
            if (done) break;
            parser.push(decoder.decode(value, { stream: true }));
        }
        parser.push(decoder.decode());
        parser.end();
    } finally {
        reader.releaseLock();
    }
}
