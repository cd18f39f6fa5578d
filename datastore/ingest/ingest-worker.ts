// An ingestion worker thread: reads and extracts files, tokenizes with the target's vocabulary
// (through the tokenizer module the app named, see `TokenizerModule`) and sorts shard suffix arrays,
// so none of that blocks the main thread.
import { createHash } from "node:crypto";
import { closeSync, constants, fstatSync, openSync, readSync } from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { buildSuffixArray, tokenWidthFor, type TokenArray } from "../index/suffix-array.ts";
import type { Tokenizer } from "../tokenizers.ts";
import { extractText } from "./text-extraction.ts";
import type { FileOutcome, JobResult, TokenizerModule, WorkerInit, WorkerJob, WorkerMessage, WorkerRequest } from "./worker-protocol.ts";

const port = parentPort!;
const init = workerData as WorkerInit;
const post = (message: WorkerMessage, transfer: Transferable[] = []) => port.postMessage(message, transfer as never);

/** Longest text handed to the tokenizer at once; texts are cut at a line end before this. */
const pieceChars = 256 * 1024;

function tokenize(tokenizer: Tokenizer, text: string): TokenArray {
    const parts: ArrayLike<number>[] = [];
    let total = 0;
    for (let start = 0; start < text.length; ) {
        let end = Math.min(text.length, start + pieceChars);
        if (end < text.length) {
            const cut = text.lastIndexOf("\n", end);
            if (cut > start) end = cut + 1;
        }
        const tokens = tokenizer.tokenize(text.slice(start, end));
        parts.push(tokens);
        total += tokens.length;
        start = end;
    }
    const out = tokenWidthFor(tokenizer.identity.vocabSize) === 2 ? new Uint16Array(total) : new Uint32Array(total);
    let at = 0;
    for (const p of parts) {
        out.set(p, at);
        at += p.length;
    }
    return out;
}

/** Reads a regular file of at most `maxBytes`, without ever blocking on a FIFO or device. */
function readSmallFile(path: string, maxBytes: number): { bytes: Buffer } | { reason: string } {
    let fd: number;
    try {
        fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
    } catch (err) {
        return { reason: `unreadable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
    }
    try {
        const st = fstatSync(fd);
        if (!st.isFile()) return { reason: "not a regular file" };
        if (st.size > maxBytes) return { reason: `too large (${st.size} bytes, limit ${maxBytes})` };
        const bytes = Buffer.allocUnsafe(st.size);
        let at = 0;
        while (at < st.size) {
            const n = readSync(fd, bytes, at, st.size - at, at);
            if (n === 0) break; // truncated while reading: take what is there
            at += n;
        }
        return { bytes: at === st.size ? bytes : bytes.subarray(0, at) };
    } catch (err) {
        return { reason: `unreadable (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})` };
    } finally {
        closeSync(fd);
    }
}

async function processFile(tokenizer: Tokenizer, job: Extract<WorkerJob, { type: "file" }>): Promise<FileOutcome> {
    const read = readSmallFile(job.path, job.maxBytes);
    if ("reason" in read) return { status: "skipped", reason: read.reason };
    const hash = createHash("sha256").update(read.bytes).digest("hex");
    if (job.knownHash === hash) return { status: "unchanged", hash };
    const extracted = await extractText(read.bytes, job.format);
    if (!extracted.ok) return { status: "skipped", reason: extracted.reason, hash };
    return { status: "ready", hash, text: extracted.text, tokens: tokenize(tokenizer, extracted.text) };
}

async function run(tokenizer: Tokenizer, job: WorkerJob): Promise<[JobResult, Transferable[]]> {
    switch (job.type) {
        case "file": {
            const outcome = await processFile(tokenizer, job);
            return [{ type: "file", outcome }, outcome.status === "ready" ? [outcome.tokens.buffer as ArrayBuffer] : []];
        }
        case "text": {
            const tokens = tokenize(tokenizer, job.text);
            return [{ type: "text", tokens }, [tokens.buffer as ArrayBuffer]];
        }
        case "sort": {
            const suffixes = buildSuffixArray(job.tokens, { depth: job.depth });
            return [{ type: "sort", suffixes }, [suffixes.buffer as ArrayBuffer]];
        }
    }
}

/** The app's tokenizer module, or a one-line error that names it. */
async function tokenizerModule(url: string): Promise<TokenizerModule> {
    let module: Partial<TokenizerModule>;
    try {
        module = (await import(url)) as Partial<TokenizerModule>;
    } catch (err) {
        throw new Error(`the tokenizer module ${url} cannot be loaded (${(err as Error).message.split("\n")[0]})`);
    }
    if (typeof module.openTokenizer !== "function") throw new Error(`the tokenizer module ${url} does not export openTokenizer`);
    return module as TokenizerModule;
}

let tokenizer: Tokenizer;
try {
    tokenizer = await (await tokenizerModule(init.tokenizerModule)).openTokenizer(init.modelPath);
} catch (err) {
    post({ kind: "init-error", message: (err as Error).message.split("\n")[0] });
    // Nothing else to do; the pool terminates us.
    await new Promise(() => {});
}

// Jobs run one at a time per worker (parallelism comes from several workers), in arrival order.
let queue: Promise<void> = Promise.resolve();
port.on("message", (request: WorkerRequest) => {
    queue = queue.then(async () => {
        try {
            const [result, transfer] = await run(tokenizer, request.job);
            post({ kind: "done", id: request.id, result }, transfer);
        } catch (err) {
            post({ kind: "failed", id: request.id, message: (err as Error).message.split("\n")[0] });
        }
    });
});
// Only the identity's own fields: the module's object may carry more than a message can clone.
const { id, vocabSize, label } = tokenizer!.identity;
post({ kind: "ready", tokenizer: { id, vocabSize, label } });
