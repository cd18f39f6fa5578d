import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { isFoundFile, outsideRootReason, pseudoFilesystemReason, walkFiles, type WalkEntry } from "./file-walker.ts";

let dir: string;
beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "presage-walk-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function collect(root: string): Promise<WalkEntry[]> {
    const out: WalkEntry[] = [];
    for await (const e of walkFiles(root)) out.push(e);
    return out;
}

describe("walkFiles", () => {
    it("finds supported files, leaves out hidden and tool folders, and survives link loops", async () => {
        mkdirSync(join(dir, "docs", "deep"), { recursive: true });
        writeFileSync(join(dir, "docs", "a.md"), "a");
        writeFileSync(join(dir, "docs", "deep", "b.py"), "b");
        writeFileSync(join(dir, "docs", "photo.jpg"), "jpg");
        writeFileSync(join(dir, "docs", ".hidden.txt"), "h");
        for (const skipped of ["node_modules", ".git", "__pycache__", "dist", "vendor"]) {
            mkdirSync(join(dir, "docs", skipped));
            writeFileSync(join(dir, "docs", skipped, "x.txt"), "x");
        }
        // A loop: docs/deep/up -> docs, and a link to a file.
        symlinkSync(join(dir, "docs"), join(dir, "docs", "deep", "up"));
        symlinkSync(join(dir, "docs", "a.md"), join(dir, "docs", "alias.md"));
        const entries = await collect(join(dir, "docs"));
        expect(entries.filter(isFoundFile).map((e) => e.path.slice(dir.length))).toEqual(["/docs/a.md", "/docs/alias.md", "/docs/deep/b.py"]);
        expect(entries.filter((e) => !isFoundFile(e)).map((e) => [e.path.slice(dir.length), (e as { problem: string }).problem])).toEqual([["/docs/photo.jpg", "not a text file (.jpg)"]]);
    });

    it("reports broken links, link loops and special files without opening them", async () => {
        symlinkSync(join(dir, "missing.txt"), join(dir, "dangling.txt"));
        symlinkSync(join(dir, "self.txt"), join(dir, "self.txt"));
        execFileSync("mkfifo", [join(dir, "pipe.txt")]);
        const entries = await collect(dir);
        const problems = Object.fromEntries(entries.filter((e) => !isFoundFile(e)).map((e) => [e.path.slice(dir.length + 1), (e as { problem: string }).problem]));
        expect(problems).toEqual({
            "dangling.txt": "unreadable (broken symbolic link)",
            "pipe.txt": "not a regular file",
            "self.txt": "unreadable (symbolic link loop)"
        });
    });

    it("reports a single unsupported file given as the root", async () => {
        writeFileSync(join(dir, "photo.jpg"), "jpg");
        expect(await collect(join(dir, "photo.jpg"))).toMatchObject([{ problem: "not a text file (.jpg)" }]);
    });

    it("reports files of kinds it does not read inside a folder, with the reason", async () => {
        writeFileSync(join(dir, "photo.PNG"), "png");
        writeFileSync(join(dir, "weights.bin"), "bin");
        writeFileSync(join(dir, "core"), "x");
        writeFileSync(join(dir, "notes.md"), "# notes");
        const entries = await collect(dir);
        const problems = Object.fromEntries(entries.filter((e) => !isFoundFile(e)).map((e) => [e.path.slice(dir.length + 1), (e as { problem: string }).problem]));
        expect(problems).toEqual({ "core": "not a text file (no extension)", "photo.PNG": "not a text file (.png)", "weights.bin": "not a text file (.bin)" });
        expect(entries.filter(isFoundFile).map((e) => e.path.slice(dir.length + 1))).toEqual(["notes.md"]);
    });

    it("never leaves the root: links out are reported, links inside are followed, loops end", async () => {
        const root = join(dir, "root");
        const outside = join(dir, "outside");
        mkdirSync(join(root, "inner"), { recursive: true });
        mkdirSync(join(outside, "deep"), { recursive: true });
        writeFileSync(join(root, "inner", "mine.md"), "mine");
        writeFileSync(join(outside, "secret.txt"), "not yours");
        writeFileSync(join(outside, "deep", "more.md"), "not yours either");
        symlinkSync(outside, join(root, "out-folder"));
        symlinkSync(join(outside, "secret.txt"), join(root, "out-file.txt"));
        // A relative link that climbs out, and one that stays in.
        symlinkSync("../../outside/deep", join(root, "inner", "climb"));
        symlinkSync("inner", join(root, "in-folder"));
        symlinkSync(root, join(root, "inner", "loop"));
        const entries = await collect(root);
        const found = entries.filter(isFoundFile).map((e) => e.path.slice(root.length + 1));
        // inner/ is entered once, by its real path, through whichever name comes first.
        expect(found).toEqual(["in-folder/mine.md"]);
        expect(found.every((p) => !p.includes("secret") && !p.includes("more"))).toBe(true);
        const problems = Object.fromEntries(entries.filter((e) => !isFoundFile(e)).map((e) => [e.path.slice(root.length + 1), (e as { problem: string }).problem]));
        expect(problems).toEqual({ "in-folder/climb": outsideRootReason, "out-file.txt": outsideRootReason, "out-folder": outsideRootReason });
    });

    it("does not open a FIFO or a device reached through a link inside the root", async () => {
        execFileSync("mkfifo", [join(dir, "pipe.md")]);
        symlinkSync("/dev/zero", join(dir, "zero.txt"));
        const entries = await collect(dir);
        expect(entries.filter(isFoundFile)).toEqual([]);
        const problems = Object.fromEntries(entries.filter((e) => !isFoundFile(e)).map((e) => [e.path.slice(dir.length + 1), (e as { problem: string }).problem]));
        expect(problems).toEqual({ "pipe.md": "not a regular file" });
    });

    it("refuses /proc, /sys and /dev and what is under them as sources", () => {
        for (const path of ["/proc", "/proc/self/cwd", "/sys/kernel", "/dev", "/dev/zero"]) expect(pseudoFilesystemReason(path)).toMatch(/a system filesystem/);
        for (const path of ["/home/me/docs", "/process", "/devices", dir]) expect(pseudoFilesystemReason(path)).toBeNull();
    });
});
