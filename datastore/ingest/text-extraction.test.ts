import { describe, expect, it } from "vitest";
import { makeDocx, makePdf, makeZip } from "./test-files.ts";
import { decodeText, extractText, fileFormat, htmlToText, looksBinary } from "./text-extraction.ts";

describe("fileFormat", () => {
    it("recognizes text, code, data, HTML, PDF and DOCX, and nothing else", () => {
        expect(fileFormat("/a/notes.md")).toBe("text");
        expect(fileFormat("/a/main.RS")).toBe("text");
        expect(fileFormat("/a/config.yml")).toBe("text");
        expect(fileFormat("/a/data.csv")).toBe("text");
        expect(fileFormat("/a/README")).toBe("text");
        expect(fileFormat("/a/index.html")).toBe("html");
        expect(fileFormat("/a/paper.pdf")).toBe("pdf");
        expect(fileFormat("/a/letter.docx")).toBe("docx");
        expect(fileFormat("/a/photo.jpg")).toBeNull();
        expect(fileFormat("/a/program")).toBeNull();
    });
});

describe("decodeText", () => {
    it("refuses binary bytes even in a .txt file", () => {
        expect(looksBinary(Buffer.from("hello\0world"))).toBe(true);
        const controls = Buffer.alloc(1000, 0x01);
        expect(decodeText(controls)).toEqual({ ok: false, reason: "binary content" });
        expect(looksBinary(Buffer.from("tabs\tand\nnewlines\r\n\x1b[1mbold"))).toBe(false);
    });

    it("refuses invalid UTF-8 and accepts UTF-8 and UTF-16 with a byte-order mark", () => {
        expect(decodeText(Buffer.from([0x68, 0x69, 0xc3, 0x28, 0xff]))).toEqual({ ok: false, reason: "not valid UTF-8 text" });
        expect(decodeText(Buffer.from("\ufeffcafé", "utf8"))).toEqual({ ok: true, text: "café" });
        const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from("naïve", "utf16le")]);
        expect(decodeText(utf16)).toEqual({ ok: true, text: "naïve" });
    });
});

describe("htmlToText", () => {
    it("keeps visible text only", () => {
        const html = `<html><head><title>T</title><style>body{color:red}</style><script>var x = "<p>no</p>";</script></head>
            <body><h1>Title</h1><p>One &amp; two&nbsp;&#8212; &#x263A;</p><!-- hidden --><div>Three<br>Four</div></body></html>`;
        expect(htmlToText(html)).toBe("T\nTitle\nOne & two — ☺\nThree\nFour");
    });
});

describe("extractText", () => {
    it("reads a PDF's text", async () => {
        const r = await extractText(makePdf("The lighthouse keeper counted ships."), "pdf");
        expect(r.ok).toBe(true);
        expect(r.ok && r.text).toContain("The lighthouse keeper counted ships.");
    });

    it("reports a malformed PDF instead of throwing", async () => {
        const r = await extractText(Buffer.from("%PDF-1.4\n1 0 obj << /Type /Catalog >>\ngarbage"), "pdf");
        expect(r.ok).toBe(false);
        expect(!r.ok && r.reason).toMatch(/^malformed PDF/);
    });

    it("reads a DOCX's text and reports a malformed one", async () => {
        const r = await extractText(makeDocx("First paragraph.\nSecond paragraph."), "docx");
        expect(r.ok && r.text).toContain("First paragraph.");
        expect(r.ok && r.text).toContain("Second paragraph.");
        const bad = await extractText(makeZip({ "hello.txt": "not a word document" }), "docx");
        expect(!bad.ok && bad.reason).toMatch(/^malformed DOCX/);
        const notZip = await extractText(Buffer.from("plain text"), "docx");
        expect(!notZip.ok && notZip.reason).toMatch(/^malformed DOCX/);
    });

    it("skips empty and blank files", async () => {
        expect(await extractText(Buffer.alloc(0), "text")).toEqual({ ok: false, reason: "empty file" });
        expect(await extractText(Buffer.from("  \n\t\n"), "text")).toEqual({ ok: false, reason: "no text" });
    });
});
