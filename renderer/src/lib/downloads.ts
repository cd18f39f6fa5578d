import { formatBytes, formatDuration } from "./format.ts";

/** What a running download shows: "120 MB of 5.0 GB · 12 MB/s · 6 min 40 s left". */
export function formatTransfer(p: { downloadedBytes: number; totalBytes: number; bytesPerSecond?: number; etaSeconds?: number | null }): string {
    const parts = [formatBytes(p.downloadedBytes) + (p.totalBytes > 0 ? ` of ${formatBytes(p.totalBytes)}` : "")];
    if ((p.bytesPerSecond ?? 0) > 0) parts.push(`${formatBytes(p.bytesPerSecond!)}/s`);
    if (p.etaSeconds != null && (p.bytesPerSecond ?? 0) > 0) parts.push(`${formatDuration(p.etaSeconds)} left`);
    return parts.join(" · ");
}

/** Sizes as Hugging Face shows them (decimal units): "5.03 GB", "640 MB". */
export function formatSize(bytes: number): string {
    if (bytes >= 1e9) return `${Number((bytes / 1e9).toFixed(bytes >= 1e10 ? 1 : 2))} GB`;
    if (bytes >= 1e6) return `${Math.round(bytes / 1e6)} MB`;
    return `${Math.round(bytes / 1e3)} KB`;
}

/** A model's file name from its path. */
export function fileName(path: string | null | undefined): string {
    return path == null ? "none" : path.split(/[\\/]/).at(-1) ?? path;
}
