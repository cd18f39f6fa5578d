/** The part of Electron's `app` that quitting uses. */
export interface QuittingApp {
    on(event: "before-quit", listener: (event: { preventDefault(): void }) => void): unknown;
    quit(): void;
    exit(code?: number): void;
}

/**
 * Quitting waits for `close` (stop answers, downloads and indexing, free the model, checkpoint and
 * close the database) before the process goes; if that hangs past `timeoutMs`, it goes anyway.
 * A second quit while closing waits for the same close.
 */
export function installGracefulQuit(app: QuittingApp, close: () => Promise<void>, timeoutMs = 10_000): void {
    let state: "running" | "closing" | "closed" = "running";
    app.on("before-quit", (event) => {
        if (state === "closed") return;
        event.preventDefault();
        if (state === "closing") return;
        state = "closing";
        const timer = setTimeout(() => {
            console.error(`presage: closing took longer than ${timeoutMs / 1000} s; quitting anyway.`);
            state = "closed";
            app.exit(0);
        }, timeoutMs);
        close()
            .catch((err: Error) => console.error(`presage: closing failed: ${String(err?.message ?? err).split("\n")[0]}`))
            .finally(() => {
                clearTimeout(timer);
                if (state === "closed") return;
                state = "closed";
                app.quit();
            });
    });
}
