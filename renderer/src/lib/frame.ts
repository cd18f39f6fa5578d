/** Runs `callback` before the next paint (requestAnimationFrame), or soon where there is none. */
export function nextFrame(callback: () => void): () => void {
    if (typeof requestAnimationFrame === "function" && typeof document !== "undefined" && document.visibilityState !== "hidden") {
        const id = requestAnimationFrame(callback);
        return () => cancelAnimationFrame(id);
    }
    const id = setTimeout(callback, 16);
    return () => clearTimeout(id);
}
