/**
 * What went wrong, for a program: the app maps each code to its API's error code and HTTP status in
 * one table (core/service-error.ts), so no caller reads an error's message to classify it.
 * - invalid-model-file: the file is missing, not a file, not a usable GGUF, or llama.cpp refused it;
 * - vocabulary-mismatch: a draft model whose vocabulary differs from the target's;
 * - context-overflow: the prompt (or the newest message) does not fit in the context;
 * - invalid-prompt: a request the engine cannot answer as asked (a chat not ending with a user message);
 * - strategy-unavailable: a strategy the loaded models or the attached stores cannot provide;
 * - backend-unavailable: the llama.cpp backend asked for (cuda, metal, vulkan) cannot run here;
 * - rpc-worker: a remote worker (llama.cpp RPC) given wrongly, unreachable, or not an rpc-server, or
 *   a target that fits neither on the workers nor on them and this machine together.
 */
export const engineErrorCodes = [
    "invalid-model-file",
    "vocabulary-mismatch",
    "context-overflow",
    "invalid-prompt",
    "strategy-unavailable",
    "backend-unavailable",
    "rpc-worker"
] as const;

export type EngineErrorCode = (typeof engineErrorCodes)[number];

/**
 * An error the engine raises on bad input or an unusable setup: a one-sentence message for the user
 * and a code for the program. Anything else the engine throws is a bug or a native failure.
 */
export class EngineError extends Error {
    constructor(readonly code: EngineErrorCode, message: string, options?: { cause?: unknown }) {
        super(message, options);
        this.name = "EngineError";
    }
}
