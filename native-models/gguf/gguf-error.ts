import { EngineError } from "../engine-error.ts";

/**
 * A GGUF file that cannot be read or transformed: wrong magic, truncated, tensor data outside the
 * file, a tensor type a transform cannot handle. The message is one sentence on one line that names
 * the file and says what is wrong (`<path> <problem>.`), so the CLI and the app can show it as is.
 */
export class GgufFormatError extends EngineError {
    override readonly name = "GgufFormatError";

    constructor(readonly path: string, problem: string) {
        // Names and keys come from the file itself: control characters would break the one-line promise.
        super("invalid-model-file", `${path} ${problem}.`.replace(/[\u0000-\u001f\u007f]/g, "?"));
    }
}

/**
 * Options that cannot apply to this particular file (e.g. keeping 9 blocks of a 5-block model).
 * The CLI reports it as a usage error.
 */
export class TransformOptionError extends RangeError {
    override readonly name = "TransformOptionError";
}
