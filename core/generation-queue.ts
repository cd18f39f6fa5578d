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
 * many may wait: the app's only line in front of the model. A request is refused when the line is
 * too long, and leaves it when its client goes away, before touching the model.
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

    /**
     * Refuses now what `run` would refuse now, so that a caller can say so before doing anything
     * else (a chat turn, before it stores the user's message). `run` checks it again itself.
     * @throws ServiceError "busy" when the line is full, "cancelled" when `signal` has aborted.
     */
    admit(options: QueueRunOptions = {}): void {
        if (options.signal?.aborted) throw cancelled();
        if (this.busy && !options.unbounded && this.waiting >= this.maxWaiting)
            throw new ServiceError("busy", `The model is busy with ${this.waiting + 1} other requests; try again in a moment.`);
    }

    async run<T>(task: () => Promise<T>, options: QueueRunOptions = {}): Promise<T> {
        const { signal } = options;
        this.admit(options);
        if (!this.busy) this.busy = true;
        else {
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
