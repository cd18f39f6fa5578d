import { lstat, opendir, realpath, stat } from "node:fs/promises";
import { join, sep } from "node:path";
import { fileFormat, type FileFormat } from "./text-extraction.ts";

/** A file worth reading, as found on disk. */
export interface FoundFile {
    path: string;
    format: FileFormat;
    size: number;
    mtimeMs: number;
}

/** Something found that can not be indexed, with the reason to record. */
export interface FoundProblem {
    path: string;
    problem: string;
    size?: number;
    mtimeMs?: number;
}

export type WalkEntry = FoundFile | FoundProblem;

/** Folders that hold tools' output or other people's code rather than the user's documents. */
export const skippedFolderNames: ReadonlySet<string> = new Set([
    "node_modules",
    "bower_components",
    "jspm_packages",
    "__pycache__",
    "site-packages",
    "venv",
    "dist",
    "build",
    "out",
    "target",
    "vendor",
    "coverage",
    "Pods",
    "DerivedData"
]);

export interface WalkOptions {
    /** Whether a folder with this name is left out (default: hidden folders and `skippedFolderNames`). */
    skipFolder?: (name: string) => boolean;
}

/** The skip reason of a symbolic link whose target lies outside the folder the user added. */
export const outsideRootReason = "not indexed (a symbolic link to outside the folder you added)";

/** Whether `path` (a real path) is `root` (a real path) or inside it. */
export function isInside(root: string, path: string): boolean {
    return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

/**
 * Pseudo and device filesystems: their files are endless, change while read, or link to the rest of
 * the disk (/proc/<pid>/cwd), so they are never a source, nor is a folder under them.
 */
const pseudoRoots = ["/proc", "/sys", "/dev"];

/** Why `path` (absolute, real) cannot be a source because it is a pseudo filesystem, or null. */
export function pseudoFilesystemReason(path: string): string | null {
    if (process.platform === "win32") return null;
    const root = pseudoRoots.find((r) => isInside(r, path));
    return root == null ? null : `${path} is in ${root}, a system filesystem that is not documents: add a folder of your own files instead.`;
}

const defaultSkipFolder = (name: string) => name.startsWith(".") || skippedFolderNames.has(name);

function problemOf(err: unknown, viaLink: boolean): string {
    const code = (err as NodeJS.ErrnoException).code;
    if (viaLink && (code === "ENOENT" || code === "ELOOP")) return code === "ELOOP" ? "unreadable (symbolic link loop)" : "unreadable (broken symbolic link)";
    return `unreadable (${code ?? (err as Error).message})`;
}

/** Why a file of a kind Presage does not read is skipped, e.g. "not a text file (.png)". */
export function unsupportedReason(path: string): string {
    const name = path.split(/[\\/]/).at(-1) ?? path;
    const dot = name.lastIndexOf(".");
    return dot > 0 ? `not a text file (.${name.slice(dot + 1).toLowerCase()})` : "not a text file (no extension)";
}

/**
 * Yields the files under `root` that Presage can index, and the problems met on the way (broken
 * links, special files, unreadable folders). Hidden files and folders and tool folders are left
 * out; files of unknown kinds (images, binaries) are reported with `unsupportedReason`, so the
 * user sees why they are not indexed.
 * Symbolic links are followed only when their target is inside the root (a link out, e.g.
 * /proc/<pid>/cwd, would take the walk over the whole disk), and a folder is entered only once (by
 * its real path), so link loops end. Links out are reported with `outsideRootReason`.
 * A root that is a single file is always reported, supported or not.
 */
export async function* walkFiles(root: string, options: WalkOptions = {}): AsyncGenerator<WalkEntry> {
    const skipFolder = options.skipFolder ?? defaultSkipFolder;
    const seen = new Set<string>();
    // The root itself may be reached through a link (e.g. macOS's /tmp): bounds are its real path.
    const realRoot = await realpath(root).catch(() => root);

    async function* visit(path: string, isRoot: boolean): AsyncGenerator<WalkEntry> {
        let link = false;
        let st;
        try {
            link = (await lstat(path)).isSymbolicLink();
            st = await stat(path);
        } catch (err) {
            if (isRoot || link || fileFormat(path) != null) yield { path, problem: problemOf(err, link) };
            return;
        }
        if (link && !isRoot) {
            let target: string;
            try {
                target = await realpath(path);
            } catch (err) {
                yield { path, problem: problemOf(err, true) };
                return;
            }
            if (!isInside(realRoot, target)) {
                if (st.isDirectory() || st.isFile()) yield { path, problem: outsideRootReason, size: 0, mtimeMs: Math.floor(st.mtimeMs) };
                return;
            }
        }
        if (st.isDirectory()) {
            let real: string;
            try {
                real = await realpath(path);
            } catch (err) {
                yield { path, problem: problemOf(err, link) };
                return;
            }
            if (seen.has(real)) return; // a link back to a folder we are already in (or have done)
            seen.add(real);
            let names: string[];
            try {
                const dir = await opendir(path);
                names = [];
                for await (const entry of dir) names.push(entry.name);
            } catch (err) {
                yield { path, problem: problemOf(err, false) };
                return;
            }
            names.sort();
            for (const name of names) {
                if (name.startsWith(".")) continue;
                const child = join(path, name);
                // Tool folders are recognized by name before looking inside them (cheap, and their
                // contents could be huge).
                if (skipFolder(name)) {
                    const childStat = await stat(child).catch(() => undefined);
                    if (childStat?.isDirectory()) continue;
                }
                yield* visit(child, false);
            }
            return;
        }
        const format = fileFormat(path);
        if (format == null) {
            if (isRoot || st.isFile()) yield { path, problem: unsupportedReason(path), size: st.size, mtimeMs: Math.floor(st.mtimeMs) };
            return;
        }
        if (!st.isFile()) {
            // A FIFO would block a reader forever, a device could be endless: never open them.
            yield { path, problem: "not a regular file", size: 0, mtimeMs: Math.floor(st.mtimeMs) };
            return;
        }
        yield { path, format, size: st.size, mtimeMs: Math.floor(st.mtimeMs) };
    }

    yield* visit(root, true);
}

/** Whether a walk entry is a readable candidate. */
export function isFoundFile(entry: WalkEntry): entry is FoundFile {
    return "format" in entry;
}
