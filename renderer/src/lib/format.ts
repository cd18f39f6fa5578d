export function formatRate(tokensPerSecond: number | null | undefined): string {
    if (tokensPerSecond == null || !Number.isFinite(tokensPerSecond)) return "–";
    return tokensPerSecond >= 100 ? tokensPerSecond.toFixed(0) : tokensPerSecond.toFixed(1);
}

/**
 * A speed ratio (new ÷ plain) in words: "1.35× faster", or for a slowdown its inverse, "6.2× slower"
 * (a ratio under 1 never reads as "faster").
 */
export function formatSpeedup(speedup: number | null | undefined): string {
    if (speedup == null || !Number.isFinite(speedup) || speedup <= 0) return "–";
    if (speedup >= 1) return `${speedup.toFixed(2)}× faster`;
    const slower = 1 / speedup;
    return `${slower.toFixed(slower < 10 ? 2 : 1)}× slower`;
}

const relative = new Intl.RelativeTimeFormat("en", { numeric: "auto" });

/** When something happened, relative to `now`: "just now", "5 minutes ago", "yesterday", "3 days ago", then a date. */
export function formatRelativeTime(time: number, now: number = Date.now()): string {
    const seconds = (now - time) / 1000;
    if (seconds < 45) return "just now";
    const minutes = Math.round(seconds / 60);
    if (minutes < 60) return relative.format(-minutes, "minute");
    const hours = Math.round(minutes / 60);
    const day = (t: number) => Math.floor((t - new Date(t).getTimezoneOffset() * 60_000) / 86_400_000);
    const days = day(now) - day(time);
    if (days === 0) return relative.format(-hours, "hour");
    if (days < 7) return relative.format(-days, "day");
    const date = new Date(time);
    return date.toLocaleDateString("en", new Date(now).getFullYear() === date.getFullYear() ? { day: "numeric", month: "short" } : { day: "numeric", month: "short", year: "numeric" });
}

export function formatPercent(rate: number): string {
    return `${Math.round(rate * 100)}%`;
}

export function formatBytes(bytes: number): string {
    if (bytes < 1024) return `${bytes} B`;
    const units = ["KB", "MB", "GB", "TB"];
    let value = bytes / 1024;
    let unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
        value /= 1024;
        unit++;
    }
    return `${value >= 100 ? value.toFixed(0) : value.toFixed(1)} ${units[unit]}`;
}

export function formatCount(n: number): string {
    if (n < 10_000) return String(n);
    if (n < 1_000_000) return `${(n / 1000).toFixed(n < 100_000 ? 1 : 0)}k`;
    return `${(n / 1_000_000).toFixed(1)}M`;
}

export function formatDuration(seconds: number | null | undefined): string {
    if (seconds == null || !Number.isFinite(seconds)) return "–";
    if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
    const m = Math.floor(seconds / 60);
    return `${m} min ${Math.round(seconds - m * 60)} s`;
}

/** A short time in milliseconds: "7 ms", "1.4 s". */
export function formatMs(ms: number | null | undefined): string {
    if (ms == null || !Number.isFinite(ms)) return "–";
    if (ms < 10) return `${ms.toFixed(1)} ms`;
    if (ms < 1000) return `${Math.round(ms)} ms`;
    return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}
