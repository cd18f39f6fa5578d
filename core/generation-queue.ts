import { ServiceError } from "./service-error.ts";

export interface GenerationQueueOptions {
    /** Requests allowed to wait while one runs; one more is refused with code "busy" (HTTP 503). */
    maxWaiting?: number;
}

export interface QueueRunOptions {
    /** Aborting while waiting removes the request from the queue (it never reaches the engine). */
    signal?: AbortSignal;
    /** Model loads and other housekeeping wait their turn but are never refused. */
    unbounded?: boolean;
}

interface Waiter {
    start: () => void;
    reject: (err: unknown) => void;
    bounded: boolean;
}

/**
 * One task at a time on the engine's single sequence, first come first served, with a bound on how
 * many may wait. It sits in front of the engine's own `exclusive` so that a request can be refused
 * when the line is too long, and leave the line when its client goes away, before touching the model.
 */
export class GenerationQueue {
    /** How many requests may wait while one runs. */
    readonly maxWaiting: number;
    private readonly waiters: Waiter[] = [];
    private busy = false;

    constructor(options: GenerationQueueOptions = {}) {
        this.maxWaiting = options.maxWaiting ?? 16;
    }

    /** Requests waiting (bounded ones), not counting the one running. */
    get waiting(): number {
        return this.waiters.filter((w) => w.bounded).length;
    }

    get running(): boolean {
        return this.busy;
    }

    async run<T>(task: () => Promise<T>, options: QueueRunOptions = {}): Promise<T> {
        const { signal } = options;
        if (signal?.aborted) throw cancelled();
        if (!this.busy) this.busy = true;
        else {
            if (!options.unbounded && this.waiting >= this.maxWaiting)
                throw new ServiceError("busy", `The model is busy with ${this.waiting + 1} other requests; try again in a moment.`);
            await new Promise<void>((resolve, reject) => {
                const waiter: Waiter = { start: resolve, reject, bounded: !options.unbounded };
                const onAbort = () => {
                    const i = this.waiters.indexOf(waiter);
                    if (i >= 0) this.waiters.splice(i, 1);
                    reject(cancelled());
                };
                waiter.start = () => {
                    signal?.removeEventListener("abort", onAbort);
                    resolve();
                };
                signal?.addEventListener("abort", onAbort, { once: true });
                this.waiters.push(waiter);
            });
        }
        // Here the queue is ours: either it was free, or the previous task handed it over.
        try {
            return await task();
        } finally {
            const next = this.waiters.shift();
            if (next != null) next.start();
            else this.busy = false;
        }
    }
}

function cancelled(): ServiceError {
    return new ServiceError("cancelled", "The request was cancelled before it started.");
}
