#!/usr/bin/env node
// `npm start`: makes sure Electron's binary is here (the electron package downloads it on first use),
// prepares what it runs (scripts/desktop.js) and launches Presage in it. Where Electron cannot be
// had, it prints one line pointing to `npx presage serve` (the same app in a browser) and exits 1.
import { spawn } from "node:child_process";
import { ensureElectronBinary, prepareDesktop, root } from "./desktop.js";

const binary = await ensureElectronBinary();
if (binary == null) {
    console.error("presage: Electron could not be downloaded here; run the same app in a browser with `npx presage serve`.");
    process.exit(1);
}
try {
    await prepareDesktop();
} catch (err) {
    console.error(`presage: the desktop app cannot start: ${String(err?.message ?? err).split("\n")[0]}; \`npx presage serve\` runs the same app in a browser.`);
    process.exit(1);
}

// One libuv pool thread (see electron/threadpool.ts): libuv reads this when the pool starts, before
// the main script runs, so it must be in the environment Electron is launched with.
const child = spawn(binary, [root, ...process.argv.slice(2)], { stdio: "inherit", cwd: root, env: { ...process.env, UV_THREADPOOL_SIZE: "1" } });
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => child.kill(signal));
child.on("exit", (code, signal) => {
    process.exitCode = code ?? (signal ? 1 : 0);
});
