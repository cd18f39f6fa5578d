import { basename, extname } from "node:path";

/** How a file's text is obtained. */
export type FileFormat = "text" | "html" | "pdf" | "docx";

export type Extraction = { ok: true; text: string } | { ok: false; reason: string };

const plainText = [
    // prose and markup
    "txt", "text", "md", "markdown", "mdx", "rst", "adoc", "asciidoc", "org", "tex", "bib", "log", "rtf",
    // data
    "json", "jsonl", "ndjson", "csv", "tsv", "yaml", "yml", "toml", "ini", "cfg", "conf", "xml", "env", "properties",
    // source code
    "ts", "tsx", "mts", "cts", "js", "jsx", "mjs", "cjs", "py", "pyi", "rb", "go", "rs", "java", "kt", "kts", "scala", "groovy",
    "gradle", "c", "h", "cc", "cpp", "cxx", "hpp", "hh", "hxx", "m", "mm", "cs", "fs", "swift", "php", "pl", "pm", "lua",
    "r", "jl", "sh", "bash", "zsh", "fish", "ps1", "bat", "cmd", "sql", "css", "scss", "sass", "less", "vue", "svelte",
    "hs", "ml", "mli", "ex", "exs", "erl", "hrl", "clj", "cljs", "dart", "zig", "nim", "v", "sv", "vhd", "proto",
    "graphql", "gql", "cmake", "mk", "tf", "hcl", "nix", "el", "lisp", "scm", "rkt", "asm", "s", "f90", "pas", "d",
    "ipynb"
];
const textExtensions = new Set(plainText);
const htmlExtensions = new Set(["html", "htm", "xhtml"]);
/** Extension-less files that are text by convention. */
const textNames = new Set(["readme", "license", "licence", "copying", "authors", "changelog", "makefile", "dockerfile", "gemfile", "rakefile", "procfile", "notice", "todo"]);

/** The format to read a file as, or null when Presage does not index that kind of file. */
export function fileFormat(path: string): FileFormat | null {
    const ext = extname(path).slice(1).toLowerCase();
    if (ext === "") return textNames.has(basename(path).toLowerCase()) ? "text" : null;
    if (textExtensions.has(ext)) return "text";
    if (htmlExtensions.has(ext)) return "html";
    if (ext === "pdf") return "pdf";
    if (ext === "docx") return "docx";
    return null;
}

/**
 * Whether bytes look like a binary file whatever their name says: any NUL byte, or more than 10%
 * control characters (other than tab, newlines, form feed and escape) in the first 64 KiB.
 */
export function looksBinary(bytes: Uint8Array): boolean {
    if (bytes.indexOf(0) !== -1) return true;
    const n = Math.min(bytes.length, 65536);
    let control = 0;
    for (let i = 0; i < n; i++) {
        const b = bytes[i];
        if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d && b !== 0x0c && b !== 0x1b) control++;
        else if (b === 0x7f) control++;
    }
    return control > n * 0.1;
}

/** Decodes text bytes: UTF-8 (strictly), or UTF-16 when a byte-order mark says so. */
export function decodeText(bytes: Uint8Array): Extraction {
    if (bytes.length >= 2 && ((bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff))) {
        try {
            return { ok: true, text: new TextDecoder(bytes[0] === 0xff ? "utf-16le" : "utf-16be", { fatal: true }).decode(bytes) };
        } catch {
            return { ok: false, reason: "invalid UTF-16 text" };
        }
    }
    if (looksBinary(bytes)) return { ok: false, reason: "binary content" };
    try {
        // TextDecoder drops a UTF-8 byte-order mark by itself.
        return { ok: true, text: new TextDecoder("utf-8", { fatal: true }).decode(bytes) };
    } catch {
        return { ok: false, reason: "not valid UTF-8 text" };
    }
}

const entities: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'", nbsp: " ", mdash: "—", ndash: "–", hellip: "…", copy: "©" };

/** Visible text of an HTML page: scripts, styles and tags dropped, entities decoded, blocks on their own lines. */
export function htmlToText(html: string): string {
    return html
        .replace(/<!--[\s\S]*?-->/g, "")
        .replace(/<(script|style|noscript|template|svg)\b[\s\S]*?<\/\1\s*>/gi, "")
        .replace(/<(br|\/p|\/div|\/h[1-6]|\/li|\/tr|\/pre|\/blockquote|\/section|\/article|hr)\b[^>]*>/gi, "\n")
        .replace(/<[^>]*>/g, "")
        .replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, name: string) => {
            if (name[0] === "#") {
                const code = name[1] === "x" || name[1] === "X" ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
                return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
            }
            return entities[name.toLowerCase()] ?? whole;
        })
        .replace(/[ \t\r\f\v]+/g, " ")
        .replace(/ *\n */g, "\n")
        .replace(/\n{3,}/g, "\n\n")
        .trim();
}

async function pdfToText(bytes: Uint8Array): Promise<Extraction> {
    const { extractText, getDocumentProxy } = await import("unpdf");
    try {
        // unpdf may detach the buffer it is given: hand it a copy.
        const pdf = await getDocumentProxy(new Uint8Array(bytes));
        try {
            const { text } = await extractText(pdf, { mergePages: true });
            return { ok: true, text };
        } finally {
            await pdf.destroy();
        }
    } catch (err) {
        return { ok: false, reason: `malformed PDF (${firstLine(err)})` };
    }
}

async function docxToText(bytes: Uint8Array): Promise<Extraction> {
    const mammoth = (await import("mammoth")).default;
    try {
        const { value } = await mammoth.extractRawText({ buffer: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) });
        return { ok: true, text: value };
    } catch (err) {
        return { ok: false, reason: `malformed DOCX (${firstLine(err)})` };
    }
}

function firstLine(err: unknown): string {
    return (err instanceof Error ? err.message : String(err)).split("\n")[0].slice(0, 200);
}

/**
 * The text of a file's bytes, or why there is none (binary, undecodable, malformed, empty).
 * Never throws for bad input: a bad file is a skipped file.
 */
export async function extractText(bytes: Uint8Array, format: FileFormat): Promise<Extraction> {
    if (bytes.length === 0) return { ok: false, reason: "empty file" };
    let result: Extraction;
    switch (format) {
        case "pdf":
            result = await pdfToText(bytes);
            break;
        case "docx":
            result = await docxToText(bytes);
            break;
        case "html": {
            const decoded = decodeText(bytes);
            result = decoded.ok ? { ok: true, text: htmlToText(decoded.text) } : decoded;
            break;
        }
        default:
            result = decodeText(bytes);
    }
    if (result.ok && result.text.trim() === "") return { ok: false, reason: "no text" };
    return result;
}
