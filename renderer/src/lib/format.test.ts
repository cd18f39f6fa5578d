import { describe, expect, it } from "vitest";
import { formatRelativeTime, formatSpeedup } from "./format.ts";

describe("formatSpeedup", () => {
    it("calls a ratio above 1 faster and a ratio below 1 slower, by its inverse", () => {
        expect(formatSpeedup(1.2)).toBe("1.20× faster");
        expect(formatSpeedup(1)).toBe("1.00× faster");
        expect(formatSpeedup(0.16)).toBe("6.25× slower");
        expect(formatSpeedup(0.5)).toBe("2.00× slower");
        expect(formatSpeedup(0.05)).toBe("20.0× slower");
    });

    it("shows a dash when there is no ratio", () => {
        expect(formatSpeedup(null)).toBe("–");
        expect(formatSpeedup(0)).toBe("–");
        expect(formatSpeedup(Number.NaN)).toBe("–");
    });
});

describe("formatRelativeTime", () => {
    const now = new Date(2026, 10, 20, 15, 0, 0).getTime();
    it("says how long ago, in words", () => {
        expect(formatRelativeTime(now - 10_000, now)).toBe("just now");
        expect(formatRelativeTime(now - 5 * 60_000, now)).toBe("5 minutes ago");
        expect(formatRelativeTime(now - 3 * 3_600_000, now)).toBe("3 hours ago");
        expect(formatRelativeTime(new Date(2026, 10, 19, 23, 0).getTime(), now)).toBe("yesterday");
        expect(formatRelativeTime(new Date(2026, 10, 17, 9, 0).getTime(), now)).toBe("3 days ago");
        expect(formatRelativeTime(new Date(2026, 9, 2, 9, 0).getTime(), now)).toBe("Oct 2");
        expect(formatRelativeTime(new Date(2025, 9, 2, 9, 0).getTime(), now)).toBe("Oct 2, 2025");
    });
});
