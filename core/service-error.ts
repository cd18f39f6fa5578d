import { EngineError, type EngineErrorCode } from "../native-models/engine-error.ts";
import type { AppErrorCode } from "./app-api.ts";

/**
 * A failure the caller can act on: a one-sentence message for the user and a code for the program.
 * Adapters turn it into an HTTP status (server/http-error.ts) or a rejected IPC call; anything
 * that is neither a ServiceError nor an EngineError is an internal error and its details stay in the log.
 */
export class ServiceError extends Error {
    constructor(readonly code: AppErrorCode, message: string, options?: { cause?: unknown }) {
        super(message, options);
        this.name = "ServiceError";
    }
}

/**
 * The app API's code for each engine error: the one table between the engine's failures and what
 * callers see (HTTP status from the app code in server/http-error.ts; IPC carries the app code).
 */
export const appCodeOfEngineError: Readonly<Record<EngineErrorCode, AppErrorCode>> = {
    "invalid-model-file": "invalid-model",
    "vocabulary-mismatch": "vocabulary-mismatch",
    "context-overflow": "invalid-request",
    "invalid-prompt": "invalid-request",
    "strategy-unavailable": "strategy-unavailable",
    "backend-unavailable": "invalid-request",
    "rpc-worker": "invalid-request"
};

/**
 * `err` as the ServiceError callers see: itself, or an engine error (GGUF errors included) under
 * its app code with its first line as the message; null for anything else (an internal error).
 */
export function asServiceError(err: unknown): ServiceError | null {
    if (err instanceof ServiceError) return err;
    if (err instanceof EngineError) return new ServiceError(appCodeOfEngineError[err.code], firstLine(err), { cause: err });
    return null;
}

/** Whether `err` is the rejection of an aborted operation (ours or the platform's). */
export function isAbortError(err: unknown): boolean {
    return (err instanceof ServiceError && err.code === "cancelled") || (err instanceof Error && err.name === "AbortError");
}

/** The first line of an error's message: enough for the user, no stack. */
export function firstLine(err: unknown): string {
    const message = err instanceof Error ? err.message : String(err);
    return message.split("\n")[0]!;
}
