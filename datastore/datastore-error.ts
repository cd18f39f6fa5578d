/**
 * A datastore file Presage cannot use as it is: written by a newer version, not a Presage
 * database, damaged, or one it may not write. The message is one sentence that names the file and what to do; the file
 * itself is never modified when this is thrown.
 */
export class DatastoreError extends Error {
    constructor(
        message: string,
        /** What went wrong, for callers that branch on it. */
        readonly reason: "newer-version" | "not-presage" | "corrupt" | "read-only" | "unusable",
        options?: { cause?: unknown }
    ) {
        super(message, options);
        this.name = "DatastoreError";
    }
}
