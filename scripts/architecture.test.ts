import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { packageRoot } from "../common/package-paths.ts";

/**
 * Folders that must not reach into each other: the engine (native-models/) and the store
 * (datastore/) meet only in the app's wiring (core/datastore-wiring.ts); what both need sits in common/.
 */
const separated = [
    ["native-models", "datastore"],
    ["datastore", "native-models"]
] as const;

interface Reference {
    file: string;
    line: number;
    specifier: string;
}

function sourceFiles(dir: string): string[] {
    const out: string[] = [];
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
        const path = join(dir, entry.name);
        if (entry.isDirectory()) {
            if (entry.name !== "node_modules" && entry.name !== "dist") out.push(...sourceFiles(path));
        } else if (/\.(ts|mts|js|mjs)$/.test(entry.name)) out.push(path);
    }
    return out;
}

/**
 * Every module a file names: static imports and re-exports, `import type`, `import("…")` calls and
 * types, `require`, and any other string literal that reads as a relative path to a module (worker
 * entries and `new URL("…", import.meta.url)`), so a module loaded by path counts as well.
 */
export function referencedModules(path: string): Reference[] {
    const source = ts.createSourceFile(path, readFileSync(path, "utf8"), ts.ScriptTarget.Latest, true);
    const out: Reference[] = [];
    const seen = new Set<ts.Node>();
    const add = (literal: ts.StringLiteralLike) => {
        if (seen.has(literal)) return;
        seen.add(literal);
        out.push({ file: path, line: source.getLineAndCharacterOfPosition(literal.getStart()).line + 1, specifier: literal.text });
    };
    const visit = (node: ts.Node) => {
        if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier != null && ts.isStringLiteral(node.moduleSpecifier))
            add(node.moduleSpecifier);
        else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal))
            add(node.argument.literal);
        else if (ts.isCallExpression(node) && node.arguments.length > 0 && ts.isStringLiteralLike(node.arguments[0]) &&
            (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === "require")))
            add(node.arguments[0]);
        else if (ts.isStringLiteralLike(node) && /^\.{1,2}\/.*\.(ts|mts|js|mjs|cjs)$/.test(node.text)) add(node);
        ts.forEachChild(node, visit);
    };
    visit(source);
    return out;
}

/** References from a file under `from/` that resolve under `to/` (relative to `root`). */
export function crossings(root: string, from: string, to: string): Reference[] {
    const target = resolve(root, to);
    const found: Reference[] = [];
    for (const file of sourceFiles(resolve(root, from)))
        for (const ref of referencedModules(file)) {
            const isRelative = ref.specifier.startsWith("./") || ref.specifier.startsWith("../");
            const resolved = resolve(dirname(file), ref.specifier);
            if (isRelative && (resolved === target || resolved.startsWith(target + sep))) found.push({ ...ref, file: relative(root, file) });
        }
    return found;
}

/** Folders whose code may not run SQL of its own: only datastore/ talks to SQLite. */
const sqlFree = ["common", "native-models", "core", "server", "electron", "cli", "bench"];

/**
 * Places a file reaches into SQLite itself: importing better-sqlite3, or calling `prepare`, `exec`,
 * `pragma` or `transaction` on something's `db` (the store's raw connection).
 */
export function rawSql(path: string): Reference[] {
    const source = ts.createSourceFile(path, readFileSync(path, "utf8"), ts.ScriptTarget.Latest, true);
    const out: Reference[] = [];
    const add = (node: ts.Node, specifier: string) =>
        out.push({ file: path, line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1, specifier });
    const visit = (node: ts.Node) => {
        if ((ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier != null && ts.isStringLiteral(node.moduleSpecifier) && node.moduleSpecifier.text === "better-sqlite3")
            add(node, "better-sqlite3");
        else if (ts.isPropertyAccessExpression(node) && ["prepare", "exec", "pragma", "transaction"].includes(node.name.text)) {
            const target = node.expression;
            if ((ts.isPropertyAccessExpression(target) && target.name.text === "db") || (ts.isIdentifier(target) && target.text === "db")) add(node, `db.${node.name.text}`);
        }
        ts.forEachChild(node, visit);
    };
    visit(source);
    return out;
}

const describeRefs = (refs: Reference[]) => refs.map((r) => `${r.file}:${r.line} → ${r.specifier}`);

describe("architecture", () => {
    for (const [from, to] of separated)
        it(`nothing under ${from}/ imports ${to}/`, () => {
            expect(describeRefs(crossings(packageRoot, from, to))).toEqual([]);
        });

    it("nothing outside datastore/ runs SQL of its own (tests may look inside)", () => {
        const found = sqlFree.flatMap((folder) =>
            sourceFiles(join(packageRoot, folder))
                .filter((f) => !/\.test\.ts$/.test(f) && !f.includes(`${sep}testing${sep}`))
                .flatMap((f) => rawSql(f).map((r) => ({ ...r, file: relative(packageRoot, f) })))
        );
        expect(describeRefs(found)).toEqual([]);
        // The check itself: it sees the store's connection used directly.
        const probe = join(mkdtempSync(join(tmpdir(), "presage-sql-")), "probe.ts");
        try {
            writeFileSync(probe, 'import Sqlite from "better-sqlite3";\nconst n = store.db.prepare("SELECT 1").get();\ndb.exec("VACUUM");\n');
            expect(rawSql(probe).map((r) => r.specifier)).toEqual(["better-sqlite3", "db.prepare", "db.exec"]);
        } finally {
            rmSync(dirname(probe), { recursive: true, force: true });
        }
    });

    it("sees every way a file can name a module", () => {
        const root = mkdtempSync(join(tmpdir(), "presage-arch-"));
        try {
            mkdirSync(join(root, "a", "deep"), { recursive: true });
            mkdirSync(join(root, "b"), { recursive: true });
            writeFileSync(join(root, "b", "x.ts"), "export const x = 1;\n");
            writeFileSync(
                join(root, "a", "deep", "user.ts"),
                [
                    'import { x } from "../../b/x.ts";',
                    'import type { X } from "../../b/x.ts";',
                    'export { x as y } from "../../b/x.ts";',
                    'const m = await import("../../b/x.ts");',
                    'const n = await import("../../b");',
                    'type T = typeof import("../../b/x.ts");',
                    'const worker = new URL("../../b/x.js", import.meta.url);',
                    'const entry = `../../b/x.ts`;',
                    'import { z } from "../sibling.ts";',
                    'import { readFileSync } from "node:fs";',
                    'const text = "../b is not a module path";'
                ].join("\n")
            );
            expect(crossings(root, "a", "b").map((r) => r.line)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
            expect(crossings(root, "b", "a")).toEqual([]);
        } finally {
            rmSync(root, { recursive: true, force: true });
        }
    });
});
