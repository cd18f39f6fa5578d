import type { ServerResponse } from "node:http";

/**
 * The page may load only its own scripts, styles, images and fonts, talk only to its own origin, and
 * never be framed; nothing inline. The page's own meta CSP (renderer/index.html) may only narrow this.
 */
export const contentSecurityPolicy = [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'"
].join("; ");

/** Headers every response carries. No Access-Control-Allow-Origin: other sites' pages get nothing. */
export function setSecurityHeaders(res: ServerResponse): void {
    res.setHeader("x-content-type-options", "nosniff");
    res.setHeader("referrer-policy", "no-referrer");
    res.setHeader("x-frame-options", "DENY");
    res.setHeader("cross-origin-resource-policy", "same-origin");
    res.setHeader("cross-origin-opener-policy", "same-origin");
    res.setHeader("content-security-policy", contentSecurityPolicy);
}
