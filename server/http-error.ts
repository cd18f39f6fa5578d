import type { AppErrorCode } from "../core/app-api.ts";
import { asServiceError } from "../core/service-error.ts";

/** An error answered with a status and the one-line JSON body `{ error: { message, type, code } }`. */
export class HttpError extends Error {
    constructor(
        readonly status: number,
        readonly code: AppErrorCode,
        message: string,
        readonly headers: Record<string, string> = {}
    ) {
        super(message);
        this.name = "HttpError";
    }
}

const statusByCode: Record<AppErrorCode, number> = {
    "invalid-request": 400,
    "vocabulary-mismatch": 400,
    "invalid-model": 400,
    "strategy-unavailable": 400,
    unauthorized: 401,
    forbidden: 403,
    "not-found": 404,
    "model-not-found": 404,
    conflict: 409,
    "payload-too-large": 413,
    "unsupported-media-type": 415,
    "request-timeout": 408,
    // nginx's "client closed request": only ever logged, the client is gone.
    cancelled: 499,
    internal: 500,
    "no-model": 503,
    "engine-stopped": 503,
    busy: 503
};

/**
 * Any thrown value as an HttpError: service and engine errors by their code (`statusByCode`),
 * unknown errors a 500 whose details stay in the log.
 */
export function toHttpError(err: unknown): HttpError {
    if (err instanceof HttpError) return err;
    const known = asServiceError(err);
    if (known != null) {
        const status = statusByCode[known.code] ?? 500;
        return new HttpError(status, known.code, known.message, status === 503 ? { "retry-after": "1" } : {});
    }
    console.error(`presage serve: ${(err as Error)?.stack ?? String(err)}`);
    return new HttpError(500, "internal", "Something went wrong inside Presage; the details are in its log. Try again.");
}

/**
 * The error body. `type` follows OpenAI's names so its clients classify errors; `code` is the app
 * API's code, written with underscores under /v1 (OpenAI style: "model_not_found").
 */
export function errorBody(err: HttpError, style: "app" | "openai"): { error: { message: string; type: string; code: string; param: null } } {
    const type = err.status === 401 ? "authentication_error"
        : err.status === 403 ? "permission_error"
            : err.status === 404 ? "not_found_error"
                : err.status === 503 ? "overloaded_error"
                    : err.status >= 500 ? "server_error" : "invalid_request_error";
    return { error: { message: err.message, type, code: style === "openai" ? err.code.replaceAll("-", "_") : err.code, param: null } };
}
