import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { createModelDownloader, type ModelDownloader } from "node-llama-cpp";
import { validateGgufFile } from "../gguf/gguf-reader.ts";

/**
 * How long a download may go without a byte before it is given up (the CLI's `models pull` and the
 * app's downloads alike). Within it an offline machine hears that the network cannot be reached.
 */
export const downloadStallTimeoutMs = 20_000;

/** Where `hf:` URIs are fetched from: `HF_ENDPOINT` (the Hugging Face tools' own variable), else huggingface.co. */
export function huggingFaceEndpoint(): string {
    return (process.env.HF_ENDPOINT || "https://huggingface.co").replace(/\/+$/, "");
}

/**
 * The http(s) address of a model: `hf:owner/repo/path/file.gguf` (optionally `#branch`) becomes
 * `<endpoint>/owner/repo/resolve/<branch>/path/file.gguf`; URLs stay as they are.
 */
export function modelUrl(uri: string, endpoint = huggingFaceEndpoint()): string {
    if (!uri.startsWith("hf:")) return uri;
    const [spec, branch] = uri.slice(3).split("#");
    const [owner, repo, ...file] = spec!.split("/");
    if (!owner || !repo || file.length === 0) throw new DownloadError("invalid", `"${uri}" is not a Hugging Face file: write hf:owner/repo/file.gguf.`);
    return `${endpoint.replace(/\/+$/, "")}/${owner}/${repo}/resolve/${encodeURIComponent(branch || "main")}/${file.map(encodeURIComponent).join("/")}`;
}

/** The file name a download of `uri` gets: its last path segment. */
export function modelFileName(uri: string): string {
    const last = uri.replace(/[?#].*$/, "").split("/").filter(Boolean).pop() ?? "model.gguf";
    return decodeURIComponent(last);
}

export type DownloadErrorReason = "invalid" | "offline" | "stalled" | "http" | "not-a-model" | "checksum" | "aborted";

/** Why a download failed, in one line, with what kind of failure it was. */
export class DownloadError extends Error {
    constructor(readonly reason: DownloadErrorReason, message: string) {
        super(message);
        this.name = "DownloadError";
    }
}

export interface DownloadOptions {
    /** `hf:owner/repo/file.gguf` or an http(s) URL. */
    uri: string;
    dir: string;
    /** Default: the URI's last path segment. */
    fileName?: string;
    /** Where `hf:` URIs are fetched from (default `huggingFaceEndpoint()`). */
    endpoint?: string;
    /** When given, the file is kept only if its SHA-256 matches. */
    sha256?: string;
    /** The size, once the server told it (before the first byte arrives). */
    onStart?: (totalBytes: number) => void;
    onProgress?: (downloadedBytes: number, totalBytes: number) => void;
    /** Aborting stops the download and keeps the partial file; the promise rejects with reason "aborted". */
    signal?: AbortSignal;
    /** Give up when no byte arrives for this long (default `downloadStallTimeoutMs`). */
    stallTimeoutMs?: number;
}

/**
 * Downloads a model with node-llama-cpp's downloader (ipull: parallel ranged requests, resumable: a
 * stopped download continues where it stopped next time), checks that the result is a GGUF file and,
 * when one is known, its hash. A file that fails a check is set aside so it is never mistaken for a
 * model.
 *
 * The server is asked first (a HEAD request bounded by the stall timeout) because ipull retries an
 * unreachable host without end: offline, the download fails within seconds with a line that says so.
 * @returns the downloaded file's path.
 * @throws DownloadError
 */
export async function downloadModel(options: DownloadOptions): Promise<string> {
    const stallMs = options.stallTimeoutMs ?? downloadStallTimeoutMs;
    const url = modelUrl(options.uri, options.endpoint);
    const fileName = options.fileName ?? modelFileName(options.uri);
    const host = hostOf(url);
    const signal = options.signal;
    if (signal?.aborted) throw aborted();
    await mkdir(options.dir, { recursive: true }).catch((err: NodeJS.ErrnoException) => {
        throw new DownloadError("invalid", `The models folder ${options.dir} cannot be created (${err.code ?? err.message}): choose another folder.`);
    });
    const total = await probe(url, host, stallMs, signal);
    options.onStart?.(total);

    let stalled = false;
    let watchdog: NodeJS.Timeout | undefined;
    let stop: (() => void) | null = null;
    const arm = () => {
        clearTimeout(watchdog);
        watchdog = setTimeout(() => {
            stalled = true;
            stop?.();
        }, stallMs);
    };
    const stalledError = () => new DownloadError("stalled", `No data arrived from ${host} for ${Math.round(stallMs / 1000)} s: the network cannot be reached or the server stopped sending (the partial file is kept; downloading again resumes it).`);
    let downloader: ModelDownloader | null = null;
    const cancel = () => {
        // Cancelling from inside ipull's progress callback recurses forever: always step out first.
        setImmediate(() => void downloader?.cancel({ deleteTempFile: false }).catch(() => undefined));
    };
    const onAbort = () => stop?.();
    signal?.addEventListener("abort", onAbort, { once: true });
    arm();
    try {
        const creating = createModelDownloader({
            modelUrl: url,
            dirPath: options.dir,
            fileName,
            showCliProgress: false,
            skipExisting: true,
            deleteTempFileOnCancel: false,
            onProgress: ({ downloadedSize, totalSize }) => {
                arm();
                options.onProgress?.(downloadedSize, totalSize);
            }
        });
        // Until the downloader exists there is nothing to cancel: give up on it, and cancel it if it
        // ever turns up, so that it cannot keep the process alive.
        downloader = await new Promise<ModelDownloader>((resolve, reject) => {
            stop = () => {
                reject(stalled ? stalledError() : aborted());
                void creating.then((d) => d.cancel({ deleteTempFile: false })).catch(() => undefined);
            };
            creating.then(resolve, reject);
        });
        const started = downloader;
        // ipull's cancel does not end a read that the server stopped feeding: stop waiting for it.
        await new Promise<void>((resolve, reject) => {
            stop = () => {
                cancel();
                reject(stalled ? stalledError() : aborted());
            };
            if (signal?.aborted || stalled) stop();
            else started.download().then(() => resolve(), reject);
        });
        if (stalled) throw stalledError();
        if (signal?.aborted) throw aborted();
    } catch (err) {
        if (err instanceof DownloadError) throw err;
        if (stalled) throw stalledError();
        if (signal?.aborted) throw aborted();
        throw new DownloadError("http", `Could not download ${url}: ${firstLine(err)}`);
    } finally {
        clearTimeout(watchdog);
        signal?.removeEventListener("abort", onAbort);
    }

    const path = join(options.dir, downloader.entrypointFilename);
    try {
        await validateGgufFile(path);
    } catch (err) {
        await setAside(path);
        throw new DownloadError("not-a-model", `${fileName} is not a usable GGUF model (${firstLine(err)}); it was set aside as ${fileName}.bad.`);
    }
    if (options.sha256 != null) {
        const actual = await sha256File(path);
        if (actual !== options.sha256) {
            await setAside(path);
            throw new DownloadError("checksum", `The downloaded file's SHA-256 is ${actual}, expected ${options.sha256}: it was set aside as ${fileName}.bad.`);
        }
    }
    return path;
}

/**
 * Asks the server for the file's size, bounded by the stall timeout. Unreachable hosts, missing files
 * and refused access end here with one line each; a server that does not answer HEAD is given the
 * benefit of the doubt.
 */
async function probe(url: string, host: string, timeoutMs: number, signal: AbortSignal | undefined): Promise<number> {
    const timeout = AbortSignal.timeout(timeoutMs);
    let response: Response;
    try {
        response = await fetch(url, { method: "HEAD", redirect: "follow", signal: signal == null ? timeout : AbortSignal.any([signal, timeout]) });
    } catch (err) {
        if (signal?.aborted) throw aborted();
        const code = (err as { cause?: { code?: string } }).cause?.code ?? (timeout.aborted ? `no answer in ${Math.round(timeoutMs / 1000)} s` : firstLine(err));
        throw new DownloadError("offline", `The network cannot be reached: ${host} did not answer (${code}). Check the connection and try again.`);
    }
    if (response.status === 404) throw new DownloadError("http", `${url} was not found (404): check the repository and file name.`);
    if (response.status === 401 || response.status === 403)
        throw new DownloadError("http", `${host} refused the download (${response.status}): the model may need a Hugging Face login or accepting its licence on its page.`);
    if (response.status >= 500) throw new DownloadError("http", `${host} answered ${response.status} ${response.statusText}: try again later.`);
    const length = Number(response.headers.get("content-length") ?? 0);
    return Number.isFinite(length) && response.ok ? length : 0;
}

async function setAside(path: string): Promise<void> {
    await rename(path, `${path}.bad`).catch(() => rm(path, { force: true }));
}

function aborted(): DownloadError {
    return new DownloadError("aborted", "The download was stopped; the partial file is kept.");
}

function hostOf(url: string): string {
    try {
        return new URL(url).host;
    } catch {
        return url;
    }
}

function firstLine(err: unknown): string {
    return (err instanceof Error ? err.message : String(err)).split("\n")[0]!;
}

export function sha256File(path: string): Promise<string> {
    return new Promise((resolve, reject) => {
        const hash = createHash("sha256");
        createReadStream(path).on("data", (d) => hash.update(d)).on("error", reject).on("end", () => resolve(hash.digest("hex")));
    });
}
