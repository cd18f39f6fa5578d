#!/usr/bin/env node
// `npm start`: builds the chat window (if its sources changed) and the Electron entry points, then
// launches Electron on this package. Where the Electron binary is missing (it is downloaded on first
// use, which some machines cannot do), it says so in one line and points to `npx presage serve`.
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { buildElectron } from "./build-electron.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

/** The Electron executable, without triggering the electron package's download-on-require. */
function electronBinary() {
    if (process.env.ELECTRON_OVERRIDE_DIST_PATH) {
        const binary = join(process.env.ELECTRON_OVERRIDE_DIST_PATH, "electron");
        return existsSync(binary) ? binary : null;
    }
    const pkg = join(root, "node_modules", "electron");
    const pathFile = join(pkg, "path.txt");
    if (!existsSync(pathFile)) return null;
    const binary = join(pkg, "dist", readFileSync(pathFile, "utf8").trim());
    return existsSync(binary) ? binary : null;
}

/** Newest modification time under a folder (to rebuild the window only when its sources changed). */
function newest(dir) {
    let t = 0;
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
        if (entry.name === "node_modules" || entry.name === "dist") continue;
        const p = join(dir, entry.name);
        t = Math.max(t, entry.isDirectory() ? newest(p) : statSync(p).mtimeMs);
    }
    return t;
}

let binary = electronBinary();
if (binary == null) {
    // The electron package downloads its binary on first use; do that once, in a child process so a
    // failed download ends with our hint rather than a stack trace.
    const fetch = spawnSync(process.execPath, ["-e", "require('electron')"], { stdio: "inherit", cwd: root });
    binary = fetch.status === 0 ? electronBinary() : null;
}
if (binary == null) {
    console.error("presage: the Electron binary could not be installed here; run the same app in a browser with `npx presage serve`.");
    process.exit(1);
}

const built = join(root, "renderer", "dist", "index.html");
if (!existsSync(built) || statSync(built).mtimeMs < newest(join(root, "renderer"))) {
    const vite = spawnSync(process.execPath, [join(root, "node_modules", "vite", "bin", "vite.js"), "build", "--config", join(root, "renderer", "vite.config.ts")], { stdio: "inherit", cwd: root });
    if (vite.status !== 0) process.exit(vite.status ?? 1);
}
await buildElectron();

const child = spawn(binary, [root, ...process.argv.slice(2)], { stdio: "inherit", cwd: root });
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => {
    process.exitCode = code ?? (signal ? 1 : 0);
});
