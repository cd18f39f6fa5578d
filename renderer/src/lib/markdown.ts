import DOMPurify from "dompurify";
import hljs from "highlight.js/lib/common";
import { Marked, type Tokens } from "marked";

function escapeHtml(text: string): string {
    return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]!);
}

/** Code blocks: highlighted by highlight.js when the language is known, with a copy button. */
function renderCode({ text, lang }: Tokens.Code): string {
    const language = (lang ?? "").trim().split(/\s+/)[0]!.toLowerCase();
    const known = language !== "" && hljs.getLanguage(language) != null;
    const body = known ? hljs.highlight(text, { language, ignoreIllegals: true }).value : escapeHtml(text);
    const label = language === "" ? "code" : language;
    return `<div class="code-block"><div class="code-head"><span class="code-lang">${escapeHtml(label)}</span>` +
        `<button type="button" class="copy-code" aria-label="Copy code">Copy</button></div>` +
        `<pre><code class="hljs${known ? ` language-${escapeHtml(language)}` : ""}">${body}</code></pre></div>\n`;
}

// `breaks`: a single newline is a line break, so the answer looks as the model wrote it.
const marked = new Marked({ gfm: true, breaks: true, renderer: { code: renderCode } });

let hooked = false;
function purifier(): typeof DOMPurify {
    if (!hooked) {
        hooked = true;
        // Links open outside the app window (Electron's main process routes _blank to the browser).
        DOMPurify.addHook("afterSanitizeAttributes", (node) => {
            if (node.tagName === "A" && node.hasAttribute("href")) {
                node.setAttribute("target", "_blank");
                node.setAttribute("rel", "noopener noreferrer");
            }
        });
    }
    return DOMPurify;
}

function sanitize(html: string): string {
    return purifier().sanitize(html, { FORBID_TAGS: ["style", "form", "input", "textarea", "select"], FORBID_ATTR: ["style"] });
}

/** Markdown → sanitized HTML. */
export function renderMarkdown(text: string): string {
    return sanitize(marked.parse(text, { async: false }));
}

/**
 * Cuts Markdown source into pieces of about `chunkChars` characters, at blank lines outside code
 * fences, so that a long answer is lexed, rendered and put on screen a piece per frame (no frame
 * pays for the whole answer). A cut is between paragraphs, so each piece is valid Markdown of its own;
 * an ordered list cut in two continues its numbering (marked keeps `start`).
 */
export function splitMarkdownSource(text: string, chunkChars = 4000): string[] {
    if (text.length <= chunkChars) return text === "" ? [] : [text];
    const out: string[] = [];
    let start = 0;
    let fence: string | null = null;
    let pos = 0;
    while (pos < text.length) {
        let end = text.indexOf("\n", pos);
        if (end < 0) end = text.length;
        const line = text.slice(pos, end);
        const marker = /^ {0,3}(`{3,}|~{3,})/.exec(line)?.[1];
        if (marker != null) {
            if (fence == null) fence = marker;
            else if (marker[0] === fence[0] && marker.length >= fence.length && line.trim() === marker) fence = null;
        } else if (fence == null && line.trim() === "" && end - start >= chunkChars) {
            out.push(text.slice(start, end + 1));
            start = end + 1;
        }
        pos = end + 1;
    }
    if (start < text.length) out.push(text.slice(start));
    return out;
}
