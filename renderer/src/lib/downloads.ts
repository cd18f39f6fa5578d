import { formatBytes, formatDuration } from "./format.ts";

/** What a running download shows: "120 MB of 5.0 GB · 12 MB/s · 6 min 40 s left". */
export function formatTransfer(p: { downloadedBytes: number; totalBytes: number; bytesPerSecond?: number; etaSeconds?: number | null }): string {
    const parts = [formatBytes(p.downloadedBytes) + (p.totalBytes > 0 ? ` of ${formatBytes(p.totalBytes)}` : "")];
    if ((p.bytesPerSecond ?? 0) > 0) parts.push(`${formatBytes(p.bytesPerSecond!)}/s`);
    if (p.etaSeconds != null && (p.bytesPerSecond ?? 0) > 0) parts.push(`${formatDuration(p.etaSeconds)} left`);
    return parts.join(" · ");
}

/** A model's file name from its path. */
export function fileName(path: string | null | undefined): string {
    return path == null ? "none" : path.split(/[\\/]/).at(-1) ?? path;
}
