import type { ServerResponse } from "node:http";

export interface SseWriterOptions {
    /** A comment line this often keeps idle proxies from closing the stream. */
    heartbeatMs?: number;
    /**
     * Events written within this long of the last flush go out together in one socket write, at the
     * end of the interval (default 16 ms, one display frame). A small model streams a step every
     * fraction of a millisecond, and one write (and one read on the client) per step cost the chat
     * path a quarter of the engine's speed; no reader can tell 16 ms apart. The first event after a
     * quiet interval goes out at once, so time to first token is not delayed.
     */
    coalesceMs?: number;
}

/**
 * A server-sent events response. Headers go out with the first write, so a request can still be
 * answered with an ordinary error status until then.
 */
export class SseWriter {
    private started = false;
    private heartbeat: NodeJS.Timeout | null = null;
    private pending = "";
    private flushTimer: NodeJS.Timeout | null = null;
    private lastFlush = -Infinity;
    private readonly coalesceMs: number;

    constructor(private readonly res: ServerResponse, private readonly options: SseWriterOptions = {}) {
        this.coalesceMs = options.coalesceMs ?? 16;
    }

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
            this.heartbeat = setInterval(() => this.write(": keep-alive\n\n"), this.options.heartbeatMs).unref();
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

    /** Writes what is held back, then ends the response. */
    end(): void {
        if (this.heartbeat != null) clearInterval(this.heartbeat);
        this.flush();
        if (!this.res.writableEnded) this.res.end();
    }

    private write(text: string): void {
        if (this.res.writableEnded || this.res.destroyed) return;
        this.pending += text;
        if (this.flushTimer != null) return;
        const wait = this.lastFlush + this.coalesceMs - performance.now();
        if (wait <= 0) this.flush();
        else this.flushTimer = setTimeout(() => this.flush(), wait);
    }

    private flush(): void {
        if (this.flushTimer != null) clearTimeout(this.flushTimer);
        this.flushTimer = null;
        this.lastFlush = performance.now();
        if (this.pending === "") return;
        const text = this.pending;
        this.pending = "";
        if (!this.res.writableEnded && !this.res.destroyed) this.res.write(text);
    }
}
