import { readFile, stat } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import { extname, join, relative, resolve, isAbsolute } from "node:path";

const contentTypes: Record<string, string> = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".map": "application/json; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".woff": "font/woff",
    ".woff2": "font/woff2",
    ".ttf": "font/ttf",
    ".txt": "text/plain; charset=utf-8",
    ".wasm": "application/wasm"
};

export interface StaticFilesOptions {
    /** The built renderer (renderer/dist). */
    dir: string;
    /**
     * The token written into index.html as `<meta name="presage-token">`; null leaves it out (the page
     * then needs the `#token=` of the printed address).
     */
    token: string | null;
}

/**
 * Serves the built chat window. Paths that are not files get index.html (the window routes
 * itself); index.html carries the token and is never cached; hashed assets are cached for good.
 */
export class StaticFiles {
    private readonly root: string;

    constructor(private readonly options: StaticFilesOptions) {
        this.root = resolve(options.dir);
    }

    /** Answers a GET/HEAD for `pathname`; false when this is not ours to answer. */
    async serve(pathname: string, res: ServerResponse, head: boolean): Promise<boolean> {
        let decoded: string;
        try {
            decoded = decodeURIComponent(pathname);
        } catch {
            return false;
        }
        const path = resolve(this.root, "." + decoded);
        const rel = relative(this.root, path);
        if (rel.startsWith("..") || isAbsolute(rel) || decoded.includes("\0")) return false;
        const info = await stat(path).catch(() => null);
        if (info?.isFile() && !path.endsWith("index.html")) {
            const body = await readFile(path);
            res.writeHead(200, {
                "content-type": contentTypes[extname(path).toLowerCase()] ?? "application/octet-stream",
                "content-length": body.length,
                "cache-control": rel.startsWith("assets") ? "public, max-age=31536000, immutable" : "no-cache"
            });
            res.end(head ? undefined : body);
            return true;
        }
        // Only page-like paths fall back to the page; a missing script is a 404, not HTML.
        if (extname(decoded) !== "" && !decoded.endsWith(".html")) return false;
        const html = await this.indexHtml();
        if (html == null) return false;
        res.writeHead(200, { "content-type": contentTypes[".html"]!, "content-length": Buffer.byteLength(html), "cache-control": "no-store" });
        res.end(head ? undefined : html);
        return true;
    }

    /** Whether the built window is there. */
    async available(): Promise<boolean> {
        return (await stat(join(this.root, "index.html")).catch(() => null))?.isFile() === true;
    }

    private async indexHtml(): Promise<string | null> {
        const html = await readFile(join(this.root, "index.html"), "utf8").catch(() => null);
        if (html == null) return null;
        return injectToken(html, this.options.token);
    }
}

/** Puts the token into the page's `<meta name="presage-token">` (adding the tag if the page has none). */
export function injectToken(html: string, token: string | null): string {
    const value = token ?? "";
    const tag = `<meta name="presage-token" content="${value.replace(/[^A-Za-z0-9_-]/g, "")}">`;
    const existing = /<meta\s+name=["']presage-token["'][^>]*>/i;
    if (existing.test(html)) return html.replace(existing, tag);
    if (token == null) return html;
    return /<\/head>/i.test(html) ? html.replace(/<\/head>/i, `    ${tag}\n</head>`) : tag + html;
}

/** The page shown when the window was not built: says how to build it, and that the API works anyway. */
export function notBuiltPage(dir: string): string {
    return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Presage</title></head>
<body>
<h1>Presage is running</h1>
<p>The chat window is not built yet (there is no <code>${escapeHtml(join(dir, "index.html"))}</code>).
Run <code>npm run build:renderer</code> and reload this page.</p>
<p>The OpenAI-compatible API works already: <code>GET /v1/models</code>, <code>POST /v1/chat/completions</code>.</p>
</body></html>
`;
}

function escapeHtml(s: string): string {
    return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
