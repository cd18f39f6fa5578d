import { describe, expect, it } from "vitest";
import { renderMarkdown, splitMarkdownSource } from "./markdown.ts";

describe("renderMarkdown", () => {
    it("highlights code blocks and gives them a copy button", () => {
        const html = renderMarkdown("Text\n\n```ts\nconst x: number = 1;\n```\n");
        expect(html).toContain('class="hljs language-ts"');
        expect(html).toContain('<span class="hljs-keyword">const</span>');
        expect(html).toContain('aria-label="Copy code"');
    });

    it("removes scripts, event handlers and inline styles", () => {
        const html = renderMarkdown('<img src=x onerror="alert(1)"><script>alert(2)</script><p style="color:red">hi</p>[x](javascript:alert(3))');
        expect(html).not.toContain("onerror");
        expect(html).not.toContain("<script");
        expect(html).not.toContain("style=");
        expect(html).not.toContain("javascript:");
    });

    it("opens links outside the app", () => {
        expect(renderMarkdown("[site](https://example.com)")).toContain('target="_blank"');
    });

    it("splits long text between paragraphs, never inside a code block", () => {
        const code = "```py\n" + "x = 1\n\n".repeat(100) + "```\n";
        const text = Array.from({ length: 200 }, (_, i) => `Paragraph ${i} with some words.`).join("\n\n") + "\n\n" + code + "\nAfter.";
        const pieces = splitMarkdownSource(text, 500);
        expect(pieces.length).toBeGreaterThan(5);
        expect(pieces.join("")).toBe(text);
        expect(pieces.filter((p) => p.includes("```"))).toHaveLength(1);
        expect(pieces.map(renderMarkdown).join("").replace(/\s+/g, " ")).toBe(renderMarkdown(text).replace(/\s+/g, " "));
    });
});
