import { z } from "zod";
import { ServiceError } from "./service-error.ts";

/**
 * Parses `input` with `schema`, or throws ServiceError "invalid-request" naming the first wrong field
 * in one line (e.g. `sampling.temperature: expected number, received string`).
 */
export function validate<S extends z.ZodType>(schema: S, input: unknown, what: string): z.output<S> {
    const result = schema.safeParse(input);
    if (result.success) return result.data;
    const issue = result.error.issues[0]!;
    const where = issue.path.length > 0 ? `${issue.path.map(String).join(".")}: ` : "";
    const more = result.error.issues.length > 1 ? ` (and ${result.error.issues.length - 1} more)` : "";
    throw new ServiceError("invalid-request", `Invalid ${what}: ${where}${issue.message}${more}.`);
}
