import { randomUUID } from "node:crypto";
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { createModelDownloader, type ModelDownloader } from "node-llama-cpp";
import { validateGgufFile } from "../../native-models/gguf/gguf-reader.ts";
import type { DownloadProgress } from "../app-api.ts";
import type { EventBus } from "./event-bus.ts";
import { firstLine, ServiceError } from "./service-error.ts";

export interface DownloadManagerOptions {
    /** The models folder: downloads land here (partial ones as `<name>.ipull`). */
    dir: string;
    events: EventBus;
    /** Progress events at most this often (ms); the final state is always sent. */
    progressIntervalMs?: number;
}

interface Download {
    progress: DownloadProgress;
    downloader: ModelDownloader | null;
    cancelled: boolean;
    done: Promise<DownloadProgress>;
}

/**
 * Model downloads into the models folder with node-llama-cpp's downloader (ipull: parallel ranged
 * requests). Cancelling keeps the partial file, so starting the same URI again resumes where it
 * stopped. Progress goes out as "download-progress" app events.
 */
export class DownloadManager {
    private readonly downloads = new Map<string, Download>();
    private readonly interval: number;

    constructor(private readonly options: DownloadManagerOptions) {
        this.interval = options.progressIntervalMs ?? 100;
    }

    /** Starts (or resumes) a download and returns its id at once; an active download of the same URI is reused. */
    start(uri: string): { id: string } {
        for (const [id, d] of this.downloads)
            if (d.progress.uri === uri && d.progress.state === "downloading") return { id };
        const id = randomUUID();
        const fileName = uri.split(/[/?#]/).filter(Boolean).pop() ?? "model.gguf";
        const download: Download = {
            progress: { id, uri, fileName, downloadedBytes: 0, totalBytes: 0, state: "downloading" },
            downloader: null,
            cancelled: false,
            done: Promise.resolve(null as unknown as DownloadProgress)
        };
        this.downloads.set(id, download);
        download.done = this.run(download);
        return { id };
    }

    /** Stops a download, keeping what arrived so that starting it again resumes. */
    async cancel(id: string): Promise<void> {
        const d = this.downloads.get(id);
        if (d == null) throw new ServiceError("not-found", `There is no download ${id}: it may have finished already.`);
        if (d.progress.state !== "downloading") return;
        d.cancelled = true;
        // Cancelling from inside ipull's progress callback recurses forever: always step out first.
        await new Promise((r) => setImmediate(r));
        await d.downloader?.cancel({ deleteTempFile: false });
        await d.done;
    }

    get(id: string): DownloadProgress | undefined {
        const d = this.downloads.get(id);
        return d && { ...d.progress };
    }

    list(): DownloadProgress[] {
        return [...this.downloads.values()].map((d) => ({ ...d.progress }));
    }

    /** Resolves with the final state of a download. */
    async wait(id: string): Promise<DownloadProgress> {
        const d = this.downloads.get(id);
        if (d == null) throw new ServiceError("not-found", `There is no download ${id}.`);
        await d.done;
        return { ...d.progress };
    }

    /** Cancels every running download (keeping partial files). */
    async close(): Promise<void> {
        await Promise.all([...this.downloads.entries()].filter(([, d]) => d.progress.state === "downloading").map(([id]) => this.cancel(id)));
    }

    private async run(d: Download): Promise<DownloadProgress> {
        const p = d.progress;
        let lastSent = 0;
        const send = (force = false) => {
            const now = performance.now();
            if (!force && now - lastSent < this.interval) return;
            lastSent = now;
            this.options.events.publish({ type: "download-progress", progress: { ...p } });
        };
        try {
            const downloader = await createModelDownloader({
                ...(p.uri.startsWith("hf:") ? { modelUri: p.uri } : { modelUrl: p.uri }),
                dirPath: this.options.dir,
                showCliProgress: false,
                skipExisting: true,
                deleteTempFileOnCancel: false,
                onProgress: ({ downloadedSize, totalSize }) => {
                    p.downloadedBytes = downloadedSize;
                    p.totalBytes = totalSize;
                    send();
                }
            });
            d.downloader = downloader;
            p.fileName = downloader.entrypointFilename;
            p.totalBytes = downloader.totalSize;
            send(true);
            if (!d.cancelled) await downloader.download();
            if (d.cancelled) {
                // ipull resolves a cancelled download as if it had finished; the partial file stays.
                p.state = "cancelled";
            } else {
                const path = join(this.options.dir, downloader.entrypointFilename);
                try {
                    await validateGgufFile(path);
                } catch (err) {
                    await rm(path, { force: true });
                    throw new Error(`the file is not a usable GGUF model (${firstLine(err)})`);
                }
                p.downloadedBytes = p.totalBytes = downloader.totalSize;
                p.state = "done";
            }
        } catch (err) {
            p.state = d.cancelled ? "cancelled" : "error";
            if (!d.cancelled) p.error = `Could not download ${p.uri}: ${firstLine(err)}. Check the address and the connection, then try again.`;
        }
        send(true);
        return { ...p };
    }
}
