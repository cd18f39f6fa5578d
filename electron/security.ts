import { shell, type Session, type WebContents } from "electron";
import { externalUrl } from "./external-links.ts";
import { isTrustedSender, type TrustedPage } from "./sender-check.ts";

/**
 * The Content-Security-Policy of the window in Electron: its own scripts, styles and images only,
 * and no network at all (the page talks to the services over IPC). The built page carries the same
 * policy in a meta tag (file:// responses have no headers); this header covers any http(s) response.
 */
export const electronContentSecurityPolicy = [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'none'",
    "media-src 'none'",
    "object-src 'none'",
    "frame-src 'none'",
    "worker-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'"
].join("; ");

/**
 * Every permission (camera, microphone, notifications, geolocation, USB, HID, serial, …) is refused,
 * asked or merely checked; the CSP header goes on every response unless `csp` is null (the Vite dev
 * server's page brings its own, relaxed for hot reload).
 */
export function secureSession(session: Session, csp: string | null): void {
    session.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
    session.setPermissionCheckHandler(() => false);
    session.setDevicePermissionHandler(() => false);
    if (csp != null)
        session.webRequest.onHeadersReceived((details, callback) => {
            callback({ responseHeaders: { ...details.responseHeaders, "Content-Security-Policy": [csp] } });
        });
}

/**
 * No navigation away from our page, no new windows and no <webview>. A link the page tries to follow
 * (an answer's Markdown link) opens in the system browser instead, if it is a plain http(s) address.
 */
export function secureWebContents(contents: WebContents, trusted: TrustedPage): void {
    contents.setWindowOpenHandler(({ url }) => {
        openInBrowser(url);
        return { action: "deny" };
    });
    contents.on("will-navigate", (event, url) => {
        if (isTrustedSender(url, trusted)) return;
        event.preventDefault();
        openInBrowser(url);
    });
    contents.on("will-redirect", (event, url) => {
        if (!isTrustedSender(url, trusted)) event.preventDefault();
    });
    contents.on("will-attach-webview", (event) => event.preventDefault());
}

function openInBrowser(url: string): void {
    const safe = externalUrl(url);
    if (safe != null) shell.openExternal(safe).catch((err: Error) => console.error(`presage: could not open ${safe}: ${err.message.split("\n")[0]}`));
}
