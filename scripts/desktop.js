// What `npm start` and the desktop check share: finding (or downloading) Electron's binary, and
// preparing what Electron runs (the chat window's build, the main bundle, SQLite for Electron's ABI).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildElectron } from "./build-electron.js";
import { ensureElectronSqlite } from "./electron-sqlite.js";

export const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/**
 * The Electron executable if it is installed, else null; never downloads (requiring the electron
 * package would). Honours ELECTRON_OVERRIDE_DIST_PATH as the electron package does.
 */
export function electronBinary(env = process.env) {
    const pkg = join(root, "node_modules", "electron");
    const pathFile = join(pkg, "path.txt");
    const relative = existsSync(pathFile) ? readFileSync(pathFile, "utf8").trim() : null;
    if (env.ELECTRON_OVERRIDE_DIST_PATH) {
        const binary = join(env.ELECTRON_OVERRIDE_DIST_PATH, relative ?? (process.platform === "win32" ? "electron.exe" : "electron"));
        return existsSync(binary) ? binary : null;
    }
    if (relative == null) return null;
    const binary = join(pkg, "dist", relative);
    return existsSync(binary) ? binary : null;
}

/**
 * Downloads Electron's binary (the electron package's own installer, which downloads on first use)
 * if it is missing. Its output is kept from the terminal: on failure it prints a stack trace and
 * advice that does not apply here; the caller says what to do in one line.
 * @returns {Promise<string | null>} the binary, or null when it could not be had
 */
export async function ensureElectronBinary(env = process.env) {
    const present = electronBinary(env);
    if (present != null) return present;
    const installer = join(root, "node_modules", "electron", "install.js");
    if (!existsSync(installer)) return null;
    const code = await new Promise((resolve) => {
        const child = spawn(process.execPath, [installer], { cwd: root, env, stdio: "ignore" });
        child.on("error", () => resolve(1));
        child.on("exit", (c) => resolve(c ?? 1));
    });
    return code === 0 ? electronBinary(env) : null;
}

/** Newest modification time under a folder (to rebuild the window only when its sources changed). */
function newest(dir) {
    let t = 0;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.name === "node_modules" || entry.name === "dist" || entry.name === "e2e") continue;
        const p = join(dir, entry.name);
        t = Math.max(t, entry.isDirectory() ? newest(p) : statSync(p).mtimeMs);
    }
    return t;
}

/**
 * Everything Electron needs besides its binary: SQLite built for Electron's ABI (fetched once), the
 * chat window's build (when its sources changed) and the main-process bundle.
 * @throws Error with a one-line message
 */
export async function prepareDesktop({ quiet = false } = {}) {
    await ensureElectronSqlite({ root });
    const built = join(root, "renderer", "dist", "index.html");
    if (!existsSync(built) || statSync(built).mtimeMs < newest(join(root, "renderer"))) {
        const vite = spawnSync(process.execPath, [join(root, "node_modules", "vite", "bin", "vite.js"), "build", "--config", join(root, "renderer", "vite.config.ts")], {
            stdio: quiet ? "pipe" : "inherit", cwd: root, encoding: "utf8"
        });
        if (vite.status !== 0) throw new Error(`the chat window could not be built (vite exited with ${vite.status})`);
    }
    await buildElectron();
}
