import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import { minimumWindowSize } from "./window-options.ts";

/** Where and how big the window was when last closed (its normal bounds, even if maximized). */
export interface WindowState {
    x?: number;
    y?: number;
    width: number;
    height: number;
    maximized: boolean;
}

export interface Rect {
    x: number;
    y: number;
    width: number;
    height: number;
}

const stateSchema = z.object({
    x: z.number().int().optional(),
    y: z.number().int().optional(),
    width: z.number().int().min(1).max(100_000),
    height: z.number().int().min(1).max(100_000),
    maximized: z.boolean()
});

/** The saved state, or null when there is none or it is unreadable (then the window opens at its default). */
export function readWindowState(file: string): WindowState | null {
    try {
        const parsed = stateSchema.safeParse(JSON.parse(readFileSync(file, "utf8")));
        return parsed.success ? parsed.data : null;
    } catch {
        return null;
    }
}

export function writeWindowState(file: string, state: WindowState): void {
    mkdirSync(dirname(file), { recursive: true });
    // Written aside and renamed: a crash mid-write leaves the previous state, not half a file.
    writeFileSync(`${file}.tmp`, JSON.stringify(state));
    renameSync(`${file}.tmp`, file);
}

/**
 * The saved state made to fit the screens there are now: a window whose saved place is no longer on
 * any screen (a monitor was unplugged) opens at the default place, and no bigger than the largest
 * work area. A window counts as visible when at least 100×50 px of it are on one screen.
 */
export function fitToDisplays(state: WindowState | null, workAreas: readonly Rect[]): WindowState | null {
    if (state == null || workAreas.length === 0) return state;
    const maxWidth = Math.max(...workAreas.map((a) => a.width));
    const maxHeight = Math.max(...workAreas.map((a) => a.height));
    const width = Math.max(minimumWindowSize.width, Math.min(state.width, maxWidth));
    const height = Math.max(minimumWindowSize.height, Math.min(state.height, maxHeight));
    const fitted: WindowState = { width, height, maximized: state.maximized };
    if (state.x != null && state.y != null) {
        const rect = { x: state.x, y: state.y, width, height };
        if (workAreas.some((a) => overlap(rect, a) >= 1)) {
            fitted.x = state.x;
            fitted.y = state.y;
        }
    }
    return fitted;
}

function overlap(r: Rect, a: Rect): number {
    const w = Math.min(r.x + r.width, a.x + a.width) - Math.max(r.x, a.x);
    const h = Math.min(r.y + r.height, a.y + a.height) - Math.max(r.y, a.y);
    return w >= 100 && h >= 50 ? 1 : 0;
}

/** The parts of a BrowserWindow the tracker reads. */
export interface TrackedWindow {
    on(event: "resize" | "move" | "close", listener: () => void): unknown;
    getNormalBounds(): Rect;
    isMaximized(): boolean;
}

/** Saves the window's state when it stops moving or resizing (after `delayMs`) and when it closes. */
export function trackWindowState(win: TrackedWindow, file: string, delayMs = 500): void {
    let timer: ReturnType<typeof setTimeout> | null = null;
    const save = () => {
        if (timer != null) clearTimeout(timer);
        timer = null;
        const b = win.getNormalBounds();
        try {
            writeWindowState(file, { x: b.x, y: b.y, width: b.width, height: b.height, maximized: win.isMaximized() });
        } catch (err) {
            console.error(`presage: could not save the window's place (${(err as Error).message.split("\n")[0]})`);
        }
    };
    const later = () => {
        if (timer != null) clearTimeout(timer);
        timer = setTimeout(save, delayMs);
    };
    win.on("resize", later);
    win.on("move", later);
    win.on("close", save);
}
