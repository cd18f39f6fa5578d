/** One server-sent event as a test reads it. */
export interface SseEvent {
    event: string;
    data: string;
}

/** Reads a whole SSE response body into its events (for tests; the window has its own reader). */
export async function readSseEvents(body: ReadableStream<Uint8Array>, onEvent?: (e: SseEvent) => void): Promise<SseEvent[]> {
    const events: SseEvent[] = [];
    const decoder = new TextDecoder();
    let buffer = "";
    let event = "";
    let data: string[] = [];
    const line = (l: string) => {
        if (l === "") {
            if (data.length > 0) {
                const e = { event: event || "message", data: data.join("\n") };
                events.push(e);
                onEvent?.(e);
            }
            event = "";
            data = [];
        } else if (l.startsWith("event:")) event = l.slice(6).trim();
        else if (l.startsWith("data:")) data.push(l.slice(5).replace(/^ /, ""));
    };
    for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let nl: number;
        while ((nl = buffer.indexOf("\n")) >= 0) {
            line(buffer.slice(0, nl).replace(/\r$/, ""));
            buffer = buffer.slice(nl + 1);
        }
    }
    line(buffer);
    line("");
    return events;
}
