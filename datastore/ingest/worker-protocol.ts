import type { TokenArray } from "../index/suffix-array.ts";
import type { Tokenizer, TokenizerIdentity } from "../tokenizers.ts";
import type { FileFormat } from "./text-extraction.ts";

/** What the main thread asks an ingestion worker to do. */
export type WorkerJob =
    /** Read, hash, extract and tokenize a file; `knownHash` lets the worker stop early when the bytes are the same. */
    | { type: "file"; path: string; format: FileFormat; maxBytes: number; knownHash?: string }
    /** Tokenize stored text (a tokenizer switch, or an interrupted run). */
    | { type: "text"; text: string }
    /** Sort the suffixes of a shard stream. */
    | { type: "sort"; tokens: TokenArray; depth: number };

export type FileOutcome =
    | { status: "ready"; hash: string; text: string; tokens: TokenArray }
    | { status: "skipped"; reason: string; hash?: string }
    | { status: "unchanged"; hash: string };

export type JobResult = { type: "file"; outcome: FileOutcome } | { type: "text"; tokens: TokenArray } | { type: "sort"; suffixes: Int32Array };

export interface WorkerInit {
    /** The module the bootstrap imports. */
    entry: string;
    /** URL of the `TokenizerModule` the worker imports to tokenize. */
    tokenizerModule: string;
    modelPath: string;
}

/**
 * What a tokenizer module given to the ingestion workers exports. The app names the module (the
 * store does not import a model runtime); each worker imports it once and opens the model's vocabulary.
 */
export interface TokenizerModule {
    openTokenizer(modelPath: string): Promise<Tokenizer>;
}

export type WorkerMessage =
    | { kind: "ready"; tokenizer: TokenizerIdentity }
    | { kind: "init-error"; message: string }
    | { kind: "done"; id: number; result: JobResult }
    | { kind: "failed"; id: number; message: string };

export type WorkerRequest = { id: number; job: WorkerJob };
