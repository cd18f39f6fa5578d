import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { TokenArray } from "../index/suffix-array.ts";
import type { TokenizerIdentity } from "../tokenizers.ts";
import type { FileOutcome, JobResult, WorkerInit, WorkerJob, WorkerMessage, WorkerRequest } from "./worker-protocol.ts";

export interface WorkerPoolOptions {
    /** GGUF whose vocabulary tokenizes the documents (loaded vocabulary-only in each worker). */
    modelPath: string;
    /** URL of the `TokenizerModule` (worker-protocol.ts) the workers tokenize with. */
    tokenizerModule: string;
    /** Worker threads (default: one per core, at most 4). */
    workers?: number;
}

interface Pending {
    resolve(result: JobResult): void;
    reject(err: Error): void;
}

interface Slot {
    worker: Worker;
    busy: number;
}

// Worker modules are TypeScript when running from source and JavaScript in a compiled build.
const workerEntry = new URL(import.meta.url.endsWith(".ts") ? "./ingest-worker.ts" : "./ingest-worker.js", import.meta.url).href;
const bootstrap = new URL("./worker-bootstrap.mjs", import.meta.url);

/**
 * Ingestion worker threads. Each loads the model's vocabulary once and then reads, extracts and
 * tokenizes files and sorts suffix arrays; jobs go to the least busy worker.
 */
export class IngestWorkerPool {
    private readonly slots: Slot[] = [];
    private readonly pending = new Map<number, Pending>();
    private nextId = 1;
    private failure: Error | undefined;
    private closing = false;

    private constructor(
        /** The tokenizer of the model the workers loaded. */
        readonly tokenizer: TokenizerIdentity
    ) {}

    /**
     * Starts the workers and waits until each has loaded the vocabulary.
     * @throws Error with one line when the model cannot be loaded.
     */
    static async start(options: WorkerPoolOptions): Promise<IngestWorkerPool> {
        const count = Math.max(1, options.workers ?? Math.min(4, availableParallelism()));
        const started: Worker[] = [];
        const ready = await Promise.allSettled(
            Array.from({ length: count }, () => {
                const init: WorkerInit = { entry: workerEntry, tokenizerModule: options.tokenizerModule, modelPath: options.modelPath };
                const worker = new Worker(bootstrap, { workerData: init });
                started.push(worker);
                return new Promise<TokenizerIdentity>((resolve, reject) => {
                    // Only our own listeners may be removed: Worker keeps internal ones that
                    // deliver messages and hold the event loop open.
                    const done = () => {
                        worker.off("message", onMessage);
                        worker.off("error", onError);
                        worker.off("exit", onExit);
                    };
                    const onMessage = (m: WorkerMessage) => {
                        done();
                        if (m.kind === "ready") resolve(m.tokenizer);
                        else reject(new Error(`Cannot load the vocabulary of ${options.modelPath}: ${m.kind === "init-error" ? m.message : "unexpected message"}`));
                    };
                    const onError = (err: Error) => {
                        done();
                        reject(err);
                    };
                    const onExit = (code: number) => {
                        done();
                        reject(new Error(`An ingestion worker stopped while starting (exit code ${code}).`));
                    };
                    worker.on("message", onMessage);
                    worker.on("error", onError);
                    worker.on("exit", onExit);
                });
            })
        );
        const failed = ready.find((r) => r.status === "rejected");
        if (failed != null) {
            await Promise.all(started.map((w) => w.terminate()));
            throw (failed as PromiseRejectedResult).reason;
        }
        const pool = new IngestWorkerPool((ready[0] as PromiseFulfilledResult<TokenizerIdentity>).value);
        for (const worker of started) pool.attach(worker);
        return pool;
    }

    get size(): number {
        return this.slots.length;
    }

    /** Jobs sent and not yet answered. */
    get inFlight(): number {
        return this.pending.size;
    }

    private attach(worker: Worker): void {
        const slot: Slot = { worker, busy: 0 };
        this.slots.push(slot);
        worker.on("message", (m: WorkerMessage) => {
            if (m.kind !== "done" && m.kind !== "failed") return;
            const p = this.pending.get(m.id);
            if (p == null) return;
            this.pending.delete(m.id);
            slot.busy--;
            if (m.kind === "done") p.resolve(m.result);
            else p.reject(new Error(m.message));
        });
        const fail = (err: Error) => {
            if (this.closing) return;
            this.failure ??= err;
            for (const p of this.pending.values()) p.reject(err);
            this.pending.clear();
        };
        worker.on("error", fail);
        worker.on("exit", (code) => fail(new Error(`An ingestion worker stopped unexpectedly (exit code ${code}).`)));
    }

    private send(job: WorkerJob, transfer: Transferable[] = []): Promise<JobResult> {
        if (this.failure != null) return Promise.reject(this.failure);
        if (this.closing) return Promise.reject(new Error("The ingestion workers were closed."));
        const slot = this.slots.reduce((a, b) => (b.busy < a.busy ? b : a));
        const id = this.nextId++;
        return new Promise<JobResult>((resolve, reject) => {
            this.pending.set(id, { resolve, reject });
            slot.busy++;
            const request: WorkerRequest = { id, job };
            slot.worker.postMessage(request, transfer as never);
        });
    }

    /** Reads, extracts and tokenizes one file. */
    async file(job: Omit<Extract<WorkerJob, { type: "file" }>, "type">): Promise<FileOutcome> {
        const r = await this.send({ type: "file", ...job });
        return (r as Extract<JobResult, { type: "file" }>).outcome;
    }

    /** Tokenizes stored text. */
    async tokenize(text: string): Promise<TokenArray> {
        const r = await this.send({ type: "text", text });
        return (r as Extract<JobResult, { type: "text" }>).tokens;
    }

    /** Sorts a shard stream's suffixes (the stream is handed over: do not use it afterwards). */
    async sortSuffixes(tokens: TokenArray, depth: number): Promise<Int32Array> {
        const r = await this.send({ type: "sort", tokens, depth }, [tokens.buffer as ArrayBuffer]);
        return (r as Extract<JobResult, { type: "sort" }>).suffixes;
    }

    /** Stops the workers; pending jobs are rejected. */
    async close(): Promise<void> {
        if (this.closing) return;
        this.closing = true;
        const err = new Error("The ingestion workers were closed.");
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
        await Promise.all(this.slots.map((s) => s.worker.terminate()));
    }
}
