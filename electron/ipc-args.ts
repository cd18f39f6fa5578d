import { z } from "zod";
import { appMethods, appStreams, desktopMethods, localPathSchema, methodsOf, type IpcArgumentSpec } from "../core/api-contract.ts";
import { ServiceError } from "../core/service-error.ts";
import { validate } from "../core/validation.ts";
import type { InvokeMethod } from "./ipc-channels.ts";

/** One argument of an IPC message: its schema and what the error calls it. */
export type IpcArgument = IpcArgumentSpec;

/** Tags one answer's events on the shared answer channel (made by the preload). */
export const streamIdSchema = z.string().min(1).max(100);

const only = ({ schema, what }: IpcArgumentSpec): IpcArgument => ({ schema, what });

/**
 * The arguments of every IPC message, checked in the handler before anything runs: the contract's
 * (core/api-contract.ts), whose schemas are the ones the services use, with the same names, so a bad
 * argument gets the same one-line error over IPC as over HTTP.
 */
export const ipcArguments = Object.fromEntries([
    ...methodsOf(appMethods).map((m) => [m, (appMethods[m].args as readonly IpcArgumentSpec[]).map(only)]),
    ["sendMessage", [{ schema: streamIdSchema, what: "stream id" }, ...appStreams.sendMessage.args.map(only)]],
    ...methodsOf(desktopMethods).map((m) => [m, (desktopMethods[m].args as readonly IpcArgumentSpec[]).map(only)])
]) as Record<InvokeMethod, readonly IpcArgument[]>;

/** The paths the preload reports for a drop. */
export const dropPathsArguments: readonly IpcArgument[] = [{ schema: z.array(localPathSchema).min(1).max(1000), what: "dropped paths" }];

/**
 * Checks a message's arguments; returns them parsed (missing trailing ones as undefined).
 * @throws ServiceError "invalid-request" with one line naming the wrong argument or field.
 */
export function parseIpcArguments(channel: string, expected: readonly IpcArgument[], args: readonly unknown[]): unknown[] {
    if (args.length > expected.length)
        throw new ServiceError("invalid-request", `Invalid ${channel} message: it takes ${expected.length} argument${expected.length === 1 ? "" : "s"}, not ${args.length}.`);
    return expected.map((a, i) => validate(a.schema, args[i], a.what));
}
