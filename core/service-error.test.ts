import { describe, expect, it, vi } from "vitest";
import { EngineError, engineErrorCodes, type EngineErrorCode } from "../native-models/engine-error.ts";
import { GgufFormatError } from "../native-models/gguf/gguf-error.ts";
import { ModelFileError } from "../native-models/runtime/model-loader.ts";
import { errorBody, toHttpError } from "../server/http-error.ts";
import type { AppErrorCode } from "./app-api.ts";
import { appCodeOfEngineError, asServiceError, ServiceError } from "./service-error.ts";

/** What each engine error must reach a caller as: the app code (IPC carries it) and the HTTP status. */
const expected: Record<EngineErrorCode, [AppErrorCode, number]> = {
    "invalid-model-file": ["invalid-model", 400],
    "vocabulary-mismatch": ["vocabulary-mismatch", 400],
    "context-overflow": ["invalid-request", 400],
    "invalid-prompt": ["invalid-request", 400],
    "strategy-unavailable": ["strategy-unavailable", 400],
    "backend-unavailable": ["invalid-request", 400],
    "rpc-worker": ["invalid-request", 400]
};

describe("engine errors as the app's errors", () => {
    it("maps every engine code to its app code and HTTP status, with the first line as the message", () => {
        expect(Object.keys(appCodeOfEngineError).sort()).toEqual([...engineErrorCodes].sort());
        for (const code of engineErrorCodes) {
            const [appCode, status] = expected[code];
            const err = new EngineError(code, `It went wrong (${code}).\n    at somewhere`);
            expect(asServiceError(err), code).toMatchObject({ code: appCode, message: `It went wrong (${code}).` });
            const http = toHttpError(err);
            expect([http.status, http.code, http.message], code).toEqual([status, appCode, `It went wrong (${code}).`]);
            expect(errorBody(http, "openai").error.code).toBe(appCode.replaceAll("-", "_"));
        }
    });

    it("maps the engine's error classes by their code, not their message", () => {
        expect(asServiceError(new GgufFormatError("/m/x.gguf", "is truncated"))).toMatchObject({ code: "invalid-model", message: "/m/x.gguf is truncated." });
        // A draft's vocabulary problem whose message never says "vocabulary" still maps by its code.
        expect(asServiceError(new ModelFileError("/m/d.gguf", "The draft does not fit this target.", "vocabulary-mismatch"))).toMatchObject({ code: "vocabulary-mismatch" });
        expect(asServiceError(new ModelFileError("/m/d.gguf", "The vocabularies differ."))).toMatchObject({ code: "invalid-model" });
        // A plain Error whose text looks like a known one stays internal: no regex on messages.
        expect(asServiceError(new Error("The prompt has 9000 tokens but the context holds 4096: shorten it."))).toBeNull();
        const log = vi.spyOn(console, "error").mockImplementation(() => {});
        expect(toHttpError(new Error("is not available")).status).toBe(500);
        expect(log).toHaveBeenCalledOnce();
        log.mockRestore();
        const service = new ServiceError("busy", "Busy.");
        expect(asServiceError(service)).toBe(service);
    });
});
