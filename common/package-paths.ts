import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

// Neutral ground: both native-models/ and datastore/ need the package's files, and neither may import the other.

/**
 * The folder of Presage's package.json above `from`. Searched rather than fixed, because this module
 * runs both from its source file and from inside the bundled Electron main (electron/dist/*.js).
 */
export function findPackageRoot(from: string): string {
    for (let dir = resolve(from); ; dir = dirname(dir)) {
        const manifest = join(dir, "package.json");
        if (existsSync(manifest)) {
            try {
                if ((JSON.parse(readFileSync(manifest, "utf8")) as { name?: string }).name === "presage") return dir;
            } catch {
                // Not ours (or unreadable): keep climbing.
            }
        }
        if (dirname(dir) === dir) throw new Error(`Presage's package.json was not found above ${from}.`);
    }
}

/** The package root, whatever the current directory. */
export const packageRoot = findPackageRoot(dirname(fileURLToPath(import.meta.url)));

/**
 * Where native code can read a file of the package. In a packaged app the package is an asar
 * archive that only Electron's patched `fs` can read; llama.cpp and dlopen need the copy that
 * electron-builder unpacked beside it (asarUnpack), in `app.asar.unpacked`. Elsewhere: unchanged.
 */
export function unpackedPath(path: string): string {
    return path.replace(`${sep}app.asar${sep}`, `${sep}app.asar.unpacked${sep}`);
}
