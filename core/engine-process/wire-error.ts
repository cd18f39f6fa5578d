import { EngineError, engineErrorCodes, type EngineErrorCode } from "../../native-models/engine-error.ts";
import type { AppErrorCode } from "../app-api.ts";
import { firstLine, ServiceError } from "../service-error.ts";
import type { WireError } from "./protocol.ts";

/** An error thrown in the engine process as it crosses: only what the app may show travels. */
export function toWireError(err: unknown): WireError {
    if (err instanceof ServiceError) return { kind: "service", code: err.code, message: firstLine(err) };
    if (err instanceof EngineError) return { kind: "engine", code: err.code, message: firstLine(err) };
    // An abort is not a failure the user must read about: the app tells it by its name.
    if (err instanceof Error && err.name === "AbortError") return { kind: "other", code: "abort", message: firstLine(err) };
    return { kind: "other", code: null, message: err instanceof Error ? (err.stack ?? err.message) : String(err) };
}

/**
 * The error the app rethrows: a ServiceError or EngineError of the same code, so the app's one table
 * (core/service-error.ts) maps it as before; anything else an Error whose message is the child's.
 */
export function fromWireError(wire: WireError): Error {
    if (wire.kind === "service") return new ServiceError(wire.code as AppErrorCode, wire.message);
    if (wire.kind === "engine" && engineErrorCodes.includes(wire.code as EngineErrorCode)) return new EngineError(wire.code as EngineErrorCode, wire.message);
    const err = new Error(wire.message.split("\n")[0]);
    if (wire.code === "abort") err.name = "AbortError";
    else err.stack = `Error (in the engine process): ${wire.message}`;
    return err;
}
