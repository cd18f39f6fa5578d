import { createReadStream } from "node:fs";
import { copyFile, mkdir, rename, rm, stat } from "node:fs/promises";
import { createHash } from "node:crypto";
import { basename, join, resolve } from "node:path";
import { validateGgufFile } from "../native-models/gguf/gguf-reader.ts";
import { firstLine, ServiceError } from "../core/service-error.ts";
import type { DropOutcome } from "./ipc.ts";

/**
 * Copies a model the user chose or dropped into the models folder, so it is listed there from now on.
 * The file is checked as GGUF first; the copy appears under its own name only when complete.
 * A file already there with the same content is not copied again.
 *
 * @throws ServiceError "invalid-request" (not a .gguf), "not-found", "invalid-model" (not a usable
 * GGUF), "conflict" (another model of that name is already in the folder).
 */
export async function addModelFile(source: string, modelsDir: string): Promise<string> {
    const from = resolve(source);
    const name = basename(from);
    if (!name.toLowerCase().endsWith(".gguf")) throw new ServiceError("invalid-request", `${name} is not a model: Presage adds .gguf files.`);
    const info = await stat(from).catch(() => null);
    if (info == null || !info.isFile()) throw new ServiceError("not-found", `There is no file at ${from}.`);
    try {
        await validateGgufFile(from);
    } catch (err) {
        throw new ServiceError("invalid-model", `${name} is not a usable GGUF file: ${firstLine(err)}`);
    }
    const dest = join(resolve(modelsDir), name);
    if (dest === from) return dest;
    const existing = await stat(dest).catch(() => null);
    if (existing != null) {
        if (existing.size === info.size && (await sha256(dest)) === (await sha256(from))) return dest;
        throw new ServiceError("conflict", `Another model named ${name} is already in the models folder ${modelsDir}; rename one of them.`);
    }
    await mkdir(resolve(modelsDir), { recursive: true });
    // The folder lists *.gguf: a partial copy under another name is never listed or loaded.
    const partial = `${dest}.part-${process.pid}`;
    try {
        await copyFile(from, partial);
        await rename(partial, dest);
    } catch (err) {
        await rm(partial, { force: true });
        throw new ServiceError("internal", `Could not copy ${name} into ${modelsDir} (${firstLine(err)}).`);
    }
    return dest;
}

export interface DropTargets {
    modelsDir: string;
    /** Indexes a folder or a file (the app API's addDocuments). */
    addDocuments(path: string): Promise<unknown>;
}

/**
 * What dropping files on the window does: a .gguf goes into the models folder; a folder (or any other
 * file) is indexed as documents. Each path succeeds or fails on its own; failures come back as
 * one-line reasons, nothing is thrown.
 */
export async function handleDroppedPaths(paths: readonly string[], targets: DropTargets): Promise<DropOutcome> {
    const outcome: DropOutcome = { models: [], documents: [], errors: [] };
    for (const path of paths) {
        try {
            const info = await stat(path).catch(() => null);
            if (info == null) throw new ServiceError("not-found", `There is nothing at ${path}.`);
            if (info.isFile() && path.toLowerCase().endsWith(".gguf")) outcome.models.push(await addModelFile(path, targets.modelsDir));
            else {
                await targets.addDocuments(path);
                outcome.documents.push(path);
            }
        } catch (err) {
            outcome.errors.push(firstLine(err));
        }
    }
    return outcome;
}

function sha256(path: string): Promise<string> {
    return new Promise((resolvePromise, reject) => {
        const hash = createHash("sha256");
        createReadStream(path).on("data", (d) => hash.update(d)).on("error", reject).on("end", () => resolvePromise(hash.digest("hex")));
    });
}
