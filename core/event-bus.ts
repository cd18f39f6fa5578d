import type { AppEvent } from "./app-api.ts";

/**
 * App-wide events (settings, engine, downloads, indexing) fanned out to every open window: the SSE
 * route and the Electron IPC adapter each subscribe. A listener that throws never stops the others.
 */
export class EventBus {
    private readonly listeners = new Set<(event: AppEvent) => void>();

    publish(event: AppEvent): void {
        for (const listener of [...this.listeners]) {
            try {
                listener(event);
            } catch {
                // One broken window must not break the rest.
            }
        }
    }

    /** Returns the unsubscribe function. */
    subscribe(listener: (event: AppEvent) => void): () => void {
        this.listeners.add(listener);
        return () => void this.listeners.delete(listener);
    }

    get size(): number {
        return this.listeners.size;
    }
}
