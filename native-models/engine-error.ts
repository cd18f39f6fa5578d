/**
 * What went wrong, for a program: the app maps each code to its API's error code and HTTP status in
 * one table (core/service-error.ts), so no caller reads an error's message to classify it.
 */
export type EngineErrorCode =
    /** The file is missing, not a file, not a usable GGUF, or llama.cpp refused to load it. */
    | "invalid-model-file"
    /** A draft model whose vocabulary differs from the target's. */
    | "vocabulary-mismatch"
    /** The prompt (or the newest message) does not fit in the context. */
    | "context-overflow"
    /** A request the engine cannot answer as asked (a chat that does not end with a user message). */
    | "invalid-prompt"
    /** A strategy that the loaded models or the attached stores cannot provide. */
    | "strategy-unavailable"
    /** The llama.cpp backend asked for (cuda, metal, vulkan) cannot run here. */
    | "backend-unavailable";

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
