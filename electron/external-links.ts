/**
 * The address to open in the system browser for a link the page tried to follow, or null to open
 * nothing. Only plain http(s) links to a named host: no file:, javascript:, custom app schemes or
 * other handlers the OS would launch, and no user:password@ addresses, whose host reads as something
 * else than it is.
 */
export function externalUrl(raw: string): string | null {
    let url: URL;
    try {
        url = new URL(raw);
    } catch {
        return null;
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") return null;
    if (url.username !== "" || url.password !== "" || url.hostname === "") return null;
    return url.href;
}
