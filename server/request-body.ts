import type { IncomingMessage } from "node:http";
import { HttpError } from "./http-error.ts";

/**
 * Reads a JSON request body of at most `limit` bytes. Empty bodies read as undefined.
 * @throws HttpError 413 (too large), 415 (not JSON), 400 (malformed JSON).
 */
export async function readJsonBody(req: IncomingMessage, limit: number): Promise<unknown> {
    const tooLarge = () => new HttpError(413, "payload-too-large", `The request body is larger than ${limit} bytes; send less.`, { connection: "close" });
    const declared = Number(req.headers["content-length"] ?? NaN);
    if (Number.isFinite(declared) && declared > limit) throw tooLarge();
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > limit) throw tooLarge();
        chunks.push(chunk);
    }
    if (size === 0) return undefined;
    const type = String(req.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase();
    // Browsers send text/plain and forms cross-site without asking first; JSON they must ask for.
    if (type !== "application/json")
        throw new HttpError(415, "unsupported-media-type", `The body must be JSON with "Content-Type: application/json" (got "${type || "none"}").`);
    try {
        return JSON.parse(Buffer.concat(chunks, size).toString("utf8"));
    } catch (err) {
        throw new HttpError(400, "invalid-request", `The body is not valid JSON: ${(err as Error).message.split("\n")[0]}.`);
    }
}
