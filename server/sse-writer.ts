import type { ServerResponse } from "node:http";

export interface SseWriterOptions {
    /** A comment line this often keeps idle proxies from closing the stream. */
    heartbeatMs?: number;
    /**
     * Held events (an answer's steps and text) written within this long of the last flush of held
     * events go out together in one socket write, at the end of the interval (default 16 ms, one
     * display frame). A small model streams a step every fraction of a millisecond, and one write (and
     * one read on the client) per step cost the chat path a quarter of the engine's speed; no reader
     * can tell 16 ms apart. The first held event after a quiet interval goes out at once, so time to
     * first token is not delayed.
     */
    coalesceMs?: number;
}

/** How an event is written. */
export interface SseEventOptions {
    /**
     * Held with the events around it (see `coalesceMs`): for the many small events of an answer. Other
     * events go out at once, with whatever was held before them, and start no interval: a stream's
     * "start" event does not hold back its first text.
     */
    hold?: boolean;
}

/**
 * A server-sent events response. Headers go out with the first write, so a request can still be
 * answered with an ordinary error status until then.
 */
export class SseWriter {
    private started = false;
    private heartbeat: NodeJS.Timeout | null = null;
    private pending = "";
    /**
     * Held events not yet rendered into `pending`, in order after it: serialized when they go out, in
     * the interval's timer, which runs while llama.cpp computes the next step on its own thread,
     * rather than in the decoding loop's step callback, where it delays the next step.
     */
    private held: { name: string; data: unknown }[] = [];
    /** Pieces of text not yet rendered into `pending`, and the event they go out as. */
    private pendingText = "";
    private pendingFrame: ((text: string) => unknown) | null = null;
    private flushTimer: NodeJS.Timeout | null = null;
    private flushQueued = false;
    /** When held events last went out. */
    private lastHeldFlush = -Infinity;
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
            this.heartbeat = setInterval(() => this.write(": keep-alive\n\n", false), this.options.heartbeatMs).unref();
    }

    /** `event: name` + `data: json` (the app API's streams). */
    event(name: string, data: unknown, options: SseEventOptions = {}): void {
        this.start();
        if (options.hold && !this.closed) {
            // `data` must not change after this call: it is read when the interval ends.
            this.renderText();
            this.held.push({ name, data });
            this.schedule();
            return;
        }
        this.write(`event: ${name}\ndata: ${JSON.stringify(data)}\n\n`, options.hold ?? false);
    }

    /** A bare `data:` line (OpenAI's streams); `[DONE]` is written as is. */
    data(data: unknown, options: SseEventOptions = {}): void {
        this.start();
        this.write(`data: ${typeof data === "string" ? data : JSON.stringify(data)}\n\n`, options.hold ?? false);
    }

    /**
     * A piece of streamed text as a bare `data:` event, `frame(text)` as JSON, held. Pieces written one
     * after another within one interval go out as one event with their text joined, so a client parses
     * one chunk a display frame rather than one a token (a stream's text is the same either way;
     * OpenAI's own streams carry several tokens in a chunk at times).
     */
    text(piece: string, frame: (text: string) => unknown): void {
        this.start();
        if (this.closed) return;
        if (this.pendingFrame !== frame) this.renderText();
        this.pendingText += piece;
        this.pendingFrame = frame;
        this.schedule();
    }

    /** Writes what is held back, then ends the response. */
    end(): void {
        if (this.heartbeat != null) clearInterval(this.heartbeat);
        this.flush(false);
        if (!this.res.writableEnded) this.res.end();
    }

    private get closed(): boolean {
        return this.res.writableEnded || this.res.destroyed;
    }

    private write(text: string, hold: boolean): void {
        if (this.closed) return;
        this.renderHeld();
        this.renderText();
        this.pending += text;
        if (hold) this.schedule();
        else this.flush(false);
    }

    private renderHeld(): void {
        for (const e of this.held) this.pending += `event: ${e.name}\ndata: ${JSON.stringify(e.data)}\n\n`;
        this.held.length = 0;
    }

    private renderText(): void {
        this.renderHeld();
        if (this.pendingFrame == null) return;
        this.pending += `data: ${JSON.stringify(this.pendingFrame(this.pendingText))}\n\n`;
        this.pendingText = "";
        this.pendingFrame = null;
    }

    private schedule(): void {
        if (this.flushTimer != null || this.flushQueued) return;
        const wait = this.lastHeldFlush + this.coalesceMs - performance.now();
        if (wait > 0) this.flushTimer = setTimeout(() => this.flush(true), wait);
        else {
            // At the end of this turn rather than now: what is written with it (a chat stream's role
            // chunk and its first text) goes out together.
            this.flushQueued = true;
            queueMicrotask(() => {
                if (this.flushQueued) this.flush(true);
            });
        }
    }

    /** `held`: the interval's flush, which starts the next interval. */
    private flush(held: boolean): void {
        if (this.flushTimer != null) clearTimeout(this.flushTimer);
        this.flushTimer = null;
        this.flushQueued = false;
        if (held) this.lastHeldFlush = performance.now();
        this.renderHeld();
        this.renderText();
        if (this.pending === "") return;
        const text = this.pending;
        this.pending = "";
        if (!this.closed) this.res.write(text);
    }
}
