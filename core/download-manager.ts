import { randomUUID } from "node:crypto";
import { DownloadError, downloadModel, modelFileName } from "../native-models/runtime/model-download.ts";
import type { DownloadProgress, PairDownloadProgress, RecommendedPair } from "./app-api.ts";
import type { EventBus } from "./event-bus.ts";
import { firstLine, ServiceError } from "./service-error.ts";

export interface DownloadManagerOptions {
    /** The models folder: downloads land here (partial ones as `<name>.ipull`). */
    dir: string;
    events: EventBus;
    /** Progress events at most this often (ms); the final state is always sent. */
    progressIntervalMs?: number;
    /** Where `hf:` URIs are fetched from (default HF_ENDPOINT, else https://huggingface.co). */
    endpoint?: string;
    /** Give up a download when no byte arrives for this long (default: the CLI's, downloadStallTimeoutMs). */
    stallTimeoutMs?: number;
    /**
     * Checks a downloaded pair: both files load and the draft can draft for the target. Resolves to
     * why not in one sentence, or null when they can be loaded together.
     */
    verifyPair?: (targetPath: string, draftPath: string) => Promise<string | null>;
}

interface FileDownload {
    progress: DownloadProgress;
    controller: AbortController | null;
    /** What a stop leaves the download as. */
    stopAs: "paused" | "cancelled";
    speed: SpeedMeter;
    done: Promise<void>;
    path: string | null;
}

interface PairDownload {
    progress: PairDownloadProgress;
    pair: RecommendedPair;
    target: FileDownload;
    draft: FileDownload;
    done: Promise<void>;
    stopAs: "paused" | "cancelled" | null;
}

/**
 * Model downloads into the models folder (node-llama-cpp's downloader through `downloadModel`), one
 * file at a time or a recommended pair at once. Pausing or cancelling keeps the partial file, so
 * starting the same URI or pair again resumes where it stopped (under the same id). Progress, speed
 * and time left go out as "download-progress" and "pair-download" app events.
 */
export class DownloadManager {
    private readonly files = new Map<string, FileDownload>();
    private readonly pairs = new Map<string, PairDownload>();
    private readonly interval: number;
    private dir: string;
    private closed = false;

    constructor(private readonly options: DownloadManagerOptions) {
        this.interval = options.progressIntervalMs ?? 100;
        this.dir = options.dir;
    }

    /** Downloads started from now on land in `dir`. */
    setDir(dir: string): void {
        this.dir = dir;
    }

    /**
     * Starts (or resumes) a download and returns its id at once: an active download of the same URI is
     * reused, a paused, cancelled or failed one resumes under its id.
     */
    start(uri: string, fileName = modelFileName(uri)): { id: string } {
        return { id: this.startFile(uri, fileName).progress.id };
    }

    /**
     * Downloads both files of a recommended pair (resuming a stopped one), then checks them; the
     * returned progress's `id` is what pause and cancel take.
     */
    startPair(pair: RecommendedPair): PairDownloadProgress {
        this.checkOpen();
        const existing = [...this.pairs.values()].find((p) => p.pair.id === pair.id);
        if (existing != null && (existing.progress.state === "downloading" || existing.progress.state === "verifying")) return { ...existing.progress };
        const target = this.startFile(pair.target.uri, pair.target.fileName);
        const draft = this.startFile(pair.draft.uri, pair.draft.fileName);
        const id = existing?.progress.id ?? randomUUID();
        const p: PairDownload = {
            pair, target, draft, stopAs: null, done: Promise.resolve(),
            progress: { id, pairId: pair.id, state: "downloading", target: target.progress, draft: draft.progress, downloadedBytes: 0, totalBytes: 0, bytesPerSecond: 0, etaSeconds: null }
        };
        this.pairs.set(id, p);
        this.updatePair(p);
        p.done = this.runPair(p);
        return { ...p.progress };
    }

    /** Stops a file's or a pair's download, keeping what arrived; starting it again resumes. */
    pause(id: string): Promise<void> {
        return this.stop(id, "paused");
    }

    /** Stops a file's or a pair's download for good (the partial file is still kept for a later resume). */
    cancel(id: string): Promise<void> {
        return this.stop(id, "cancelled");
    }

    get(id: string): DownloadProgress | undefined {
        const d = this.files.get(id);
        return d && { ...d.progress };
    }

    getPair(id: string): PairDownloadProgress | undefined {
        const p = this.pairs.get(id);
        return p && { ...p.progress };
    }

    list(): DownloadProgress[] {
        return [...this.files.values()].map((d) => ({ ...d.progress }));
    }

    listPairs(): PairDownloadProgress[] {
        return [...this.pairs.values()].map((p) => ({ ...p.progress }));
    }

    /** Resolves with the final state of a file's download. */
    async wait(id: string): Promise<DownloadProgress> {
        const d = this.files.get(id);
        if (d == null) throw new ServiceError("not-found", `There is no download ${id}.`);
        await d.done;
        return { ...d.progress };
    }

    /** Resolves with the final state of a pair's download (after its check). */
    async waitPair(id: string): Promise<PairDownloadProgress> {
        const p = this.pairs.get(id);
        if (p == null) throw new ServiceError("not-found", `There is no download ${id}.`);
        await p.done;
        return { ...p.progress };
    }

    /**
     * Stops every download (partial files kept) and refuses new ones. Waits at most `timeoutMs` for
     * the downloader to let go: shutting down must not hang on a server that stopped answering.
     */
    async close(timeoutMs = 2000): Promise<void> {
        this.closed = true;
        const running = [...this.files.values()].filter((d) => d.progress.state === "downloading");
        for (const d of running) {
            d.stopAs = "cancelled";
            d.controller?.abort();
        }
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
            Promise.all(running.map((d) => d.done)),
            new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs).unref()))
        ]);
        clearTimeout(timer);
    }

    private checkOpen(): void {
        if (this.closed) throw new ServiceError("conflict", "Presage is shutting down: downloads cannot start now.");
    }

    private async stop(id: string, as: "paused" | "cancelled"): Promise<void> {
        const pair = this.pairs.get(id);
        if (pair != null) {
            if (pair.progress.state !== "downloading") return;
            pair.stopAs = as;
            await Promise.all([this.stopFile(pair.target, as), this.stopFile(pair.draft, as)]);
            await pair.done;
            return;
        }
        const d = this.files.get(id);
        if (d == null) throw new ServiceError("not-found", `There is no download ${id}: it may have finished already.`);
        await this.stopFile(d, as);
    }

    private async stopFile(d: FileDownload, as: "paused" | "cancelled"): Promise<void> {
        if (d.progress.state !== "downloading") return;
        d.stopAs = as;
        d.controller?.abort();
        await d.done;
    }

    private startFile(uri: string, fileName: string): FileDownload {
        this.checkOpen();
        let d = [...this.files.values()].find((f) => f.progress.uri === uri);
        if (d?.progress.state === "downloading") return d;
        if (d == null) {
            const id = randomUUID();
            d = {
                progress: { id, uri, fileName, downloadedBytes: 0, totalBytes: 0, state: "downloading", bytesPerSecond: 0, etaSeconds: null },
                controller: null, stopAs: "cancelled", speed: new SpeedMeter(), done: Promise.resolve(), path: null
            };
            this.files.set(id, d);
        }
        const p = d.progress;
        p.state = "downloading";
        delete p.error;
        p.bytesPerSecond = 0;
        p.etaSeconds = null;
        d.stopAs = "cancelled";
        d.speed = new SpeedMeter();
        d.controller = new AbortController();
        d.done = this.runFile(d, fileName);
        return d;
    }

    private async runFile(d: FileDownload, fileName: string): Promise<void> {
        const p = d.progress;
        let lastSent = 0;
        const send = (force = false) => {
            const now = performance.now();
            if (!force && now - lastSent < this.interval) return;
            lastSent = now;
            this.options.events.publish({ type: "download-progress", progress: { ...p } });
            this.onFileProgress(d);
        };
        send(true);
        try {
            // A file already in the folder is not fetched again (skipExisting); its checks still run.
            d.path = await downloadModel({
                uri: p.uri,
                dir: this.dir,
                fileName,
                endpoint: this.options.endpoint,
                stallTimeoutMs: this.options.stallTimeoutMs,
                signal: d.controller!.signal,
                onStart: (total) => {
                    if (total > 0) p.totalBytes = total;
                    send(true);
                },
                onProgress: (done, total) => {
                    p.downloadedBytes = done;
                    if (total > 0) p.totalBytes = total;
                    p.bytesPerSecond = d.speed.add(done);
                    p.etaSeconds = p.bytesPerSecond > 0 && p.totalBytes > 0 ? Math.max(0, (p.totalBytes - done) / p.bytesPerSecond) : null;
                    send();
                }
            });
            p.downloadedBytes = p.totalBytes = Math.max(p.totalBytes, p.downloadedBytes);
            p.state = "done";
        } catch (err) {
            if (err instanceof DownloadError && err.reason === "aborted") p.state = d.stopAs;
            else {
                p.state = "error";
                p.error = err instanceof DownloadError ? err.message : `Could not download ${p.uri}: ${firstLine(err)}`;
            }
        }
        p.bytesPerSecond = 0;
        p.etaSeconds = null;
        send(true);
    }

    /** Pair totals follow their files' progress. */
    private onFileProgress(d: FileDownload): void {
        for (const pair of this.pairs.values())
            if ((pair.target === d || pair.draft === d) && pair.progress.state === "downloading") this.updatePair(pair);
    }

    private updatePair(pair: PairDownload, force = true): void {
        const p = pair.progress;
        const t = pair.target.progress;
        const dr = pair.draft.progress;
        p.target = { ...t };
        p.draft = { ...dr };
        p.downloadedBytes = t.downloadedBytes + dr.downloadedBytes;
        p.totalBytes = (t.totalBytes || pair.pair.target.sizeBytes) + (dr.totalBytes || pair.pair.draft.sizeBytes);
        p.bytesPerSecond = (t.bytesPerSecond ?? 0) + (dr.bytesPerSecond ?? 0);
        p.etaSeconds = p.bytesPerSecond > 0 ? Math.max(0, (p.totalBytes - p.downloadedBytes) / p.bytesPerSecond) : null;
        if (force) this.options.events.publish({ type: "pair-download", pair: { ...p } });
    }

    private async runPair(pair: PairDownload): Promise<void> {
        const p = pair.progress;
        // The draft is small: both run at once, and a failure of one stops the other.
        const files = [pair.target, pair.draft];
        await Promise.all(files.map(async (f) => {
            await f.done;
            if (f.progress.state === "error") for (const other of files) if (other !== f) await this.stopFile(other, "paused");
        }));
        const failed = files.find((f) => f.progress.state === "error");
        if (failed != null) {
            p.state = "error";
            p.error = failed.progress.error;
        } else if (files.some((f) => f.progress.state !== "done")) {
            p.state = pair.stopAs ?? (files.some((f) => f.progress.state === "cancelled") ? "cancelled" : "paused");
        } else {
            p.state = "verifying";
            this.updatePair(pair);
            try {
                const why = this.options.verifyPair == null ? null : await this.options.verifyPair(pair.target.path!, pair.draft.path!);
                if (why == null) p.state = "ready";
                else {
                    p.state = "error";
                    p.error = why;
                }
            } catch (err) {
                p.state = "error";
                p.error = `The downloaded files do not load: ${firstLine(err)}`;
            }
        }
        pair.stopAs = null;
        this.updatePair(pair);
    }
}

/** Bytes per second over the last few seconds of progress reports. */
class SpeedMeter {
    private readonly samples: { t: number; bytes: number }[] = [];

    add(bytes: number, now = performance.now()): number {
        this.samples.push({ t: now, bytes });
        while (this.samples.length > 2 && now - this.samples[0]!.t > 3000) this.samples.shift();
        const first = this.samples[0]!;
        const seconds = (now - first.t) / 1000;
        return seconds > 0.2 ? Math.max(0, (bytes - first.bytes) / seconds) : 0;
    }
}
