import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { rename, rm } from "node:fs/promises";
import { createModelDownloader } from "node-llama-cpp";

export interface DownloadOptions {
    /** `hf:owner/repo/file.gguf` or an http(s) URL. */
    uri: string;
    dir: string;
    fileName?: string;
    /** When given, the file is kept only if its SHA-256 matches. */
    sha256?: string;
    onProgress?: (downloaded: number, total: number) => void;
    signal?: AbortSignal;
    /** Give up when no byte arrives for this long (default 30 s): an unreachable host otherwise hangs. */
    stallTimeoutMs?: number;
}

/**
 * Downloads a model with node-llama-cpp's downloader (resumable: a cancelled download continues where
 * it stopped next time), then checks its hash when one is known. A file that fails the check is removed
 * so it is never mistaken for the real model.
 */
export async function downloadModel(options: DownloadOptions): Promise<string> {
    const stallMs = options.stallTimeoutMs ?? 30_000;
    let stalled = false;
    let watchdog: NodeJS.Timeout | undefined;
    let cancel = (): void => undefined;
    const arm = () => {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => {
            stalled = true;
            cancel();
        }, stallMs);
    };
    arm();
    const stalledError = () => new Error(`No data arrived from ${options.uri} for ${Math.round(stallMs / 1000)} s: check the network (the partial download is kept and resumes next time).`);
    let path: string;
    try {
        const downloader = await Promise.race([
            createModelDownloader({
                ...(options.uri.startsWith("hf:") ? { modelUri: options.uri } : { modelUrl: options.uri }),
                dirPath: options.dir,
                fileName: options.fileName,
                showCliProgress: false,
                skipExisting: true,
                onProgress: ({ downloadedSize, totalSize }) => {
                    arm();
                    options.onProgress?.(downloadedSize, totalSize);
                }
            }),
            new Promise<never>((_, reject) => { cancel = () => reject(stalledError()); })
        ]);
        cancel = () => void downloader.cancel({ deleteTempFile: false });
        const onAbort = () => void downloader.cancel({ deleteTempFile: false });
        options.signal?.addEventListener("abort", onAbort, { once: true });
        try {
            path = await downloader.download();
        } finally {
            options.signal?.removeEventListener("abort", onAbort);
        }
    } catch (err) {
        throw stalled ? stalledError() : err;
    } finally {
        clearTimeout(watchdog);
    }
    if (stalled) throw stalledError();
    if (options.sha256 != null) {
        const actual = await sha256File(path);
        if (actual !== options.sha256) {
            const bad = `${path}.bad`;
            await rename(path, bad).catch(() => rm(path, { force: true }));
            throw new Error(`The downloaded file's SHA-256 is ${actual}, expected ${options.sha256}: it was set aside as ${bad}.`);
        }
    }
    return path;
}

export function sha256File(path: string): Promise<string> {
    return new Promise((resolve, reject) => {
        const hash = createHash("sha256");
        createReadStream(path).on("data", (d) => hash.update(d)).on("error", reject).on("end", () => resolve(hash.digest("hex")));
    });
}
