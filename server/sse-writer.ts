import type { ServerResponse } from "node:http";

/**
 * A server-sent events response. Headers go out with the first write, so a request can still be
 * answered with an ordinary error status until then.
 */
export class SseWriter {
    private started = false;
    private heartbeat: NodeJS.Timeout | null = null;

    constructor(private readonly res: ServerResponse, private readonly options: { heartbeatMs?: number } = {}) {}

    get isStarted(): boolean {
        return this.started;
    }

    /** Sends the headers (and a comment, so proxies and clients see the stream open at once). */
    start(): void {
        if (this.started) return;
        this.started = true;
        this.res.writeHead(200, {
            "content-type": "text/event-stream; charset=utf-8",
            "cache-control": "no-cache, no-transform",
            "x-accel-buffering": "no",
            connection: "keep-alive"
        });
        this.res.socket?.setNoDelay(true);
        this.res.write(": presage\n\n");
        if (this.options.heartbeatMs != null)
            this.heartbeat = setInterval(() => this.res.write(": keep-alive\n\n"), this.options.heartbeatMs).unref();
    }

    /** `event: name` + `data: json` (the app API's streams). */
    event(name: string, data: unknown): void {
        this.start();
        this.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`);
    }

    /** A bare `data:` line (OpenAI's streams); `[DONE]` is written as is. */
    data(data: unknown): void {
        this.start();
        this.write(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`);
    }

    end(): void {
        if (this.heartbeat != null) clearInterval(this.heartbeat);
        if (!this.res.writableEnded) this.res.end();
    }

    private write(text: string): void {
        if (!this.res.writableEnded && !this.res.destroyed) this.res.write(text);
    }
}
