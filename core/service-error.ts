import type { AppErrorCode } from "./app-api.ts";

/**
 * A failure the caller can act on: a one-sentence message for the user and a code for the program.
 * Adapters turn it into an HTTP status (server/http-error.ts) or a rejected IPC call; anything
 * that is not a ServiceError is an internal error and its details stay in the log.
 */
export class ServiceError extends Error {
    constructor(readonly code: AppErrorCode, message: string, options?: { cause?: unknown }) {
        super(message, options);
        this.name = "ServiceError";
    }
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
