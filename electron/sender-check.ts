/** The page allowed to use the IPC API: our built window, or the Vite dev server during development. */
export type TrustedPage = { fileUrl: string } | { origin: string };

/**
 * Whether an IPC message comes from our own page. Checked in every handler against the frame that
 * sent it, so a page the window was navigated to (or an embedded frame) cannot call the services.
 */
export function isTrustedSender(frameUrl: string | null | undefined, trusted: TrustedPage): boolean {
    if (frameUrl == null || frameUrl === "") return false;
    let url: URL;
    try {
        url = new URL(frameUrl);
    } catch {
        return false;
    }
    if ("fileUrl" in trusted) {
        const expected = new URL(trusted.fileUrl);
        // The hash and query are the page's own routing; the file must be exactly ours.
        return url.protocol === "file:" && expected.protocol === "file:" && url.host === expected.host && decodeURIComponent(url.pathname) === decodeURIComponent(expected.pathname);
    }
    return url.origin === new URL(trusted.origin).origin && (url.protocol === "http:" || url.protocol === "https:");
}
