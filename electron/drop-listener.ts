/**
 * Listens for files dropped anywhere on the window (in the preload's isolated world; the page sees
 * nothing of it) and hands their paths to `send`. Only drops that carry files are taken over, so
 * dragging text into the message box still works; a file dropped on the window is never opened as
 * a page (Electron would otherwise navigate to it).
 */
export function watchFileDrops(target: Pick<Window, "addEventListener">, pathOf: (file: File) => string, send: (paths: string[]) => unknown): void {
    const carriesFiles = (event: DragEvent) => Array.from(event.dataTransfer?.types ?? []).includes("Files");
    target.addEventListener("dragover", (event) => {
        if (!carriesFiles(event)) return;
        event.preventDefault();
        if (event.dataTransfer != null) event.dataTransfer.dropEffect = "copy";
    });
    target.addEventListener("drop", (event) => {
        if (!carriesFiles(event)) return;
        event.preventDefault();
        const paths = Array.from(event.dataTransfer?.files ?? []).map(pathOf).filter((p) => p !== "");
        if (paths.length > 0) void send(paths);
    });
}
