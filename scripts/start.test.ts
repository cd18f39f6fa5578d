import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { packageRoot } from "../native-models/models-dir.ts";
import { electronAbi, electronSqlitePath, installedElectronVersion } from "./electron-sqlite.js";

let server: Server;
let mirror = "";
const requests: string[] = [];
const dir = mkdtempSync(join(tmpdir(), "presage-start-"));

beforeAll(async () => {
    // Electron's download mirror, refusing everything: the download fails here as it does without GitHub.
    server = createServer((req, res) => {
        requests.push(req.url ?? "");
        res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    mirror = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    rmSync(dir, { recursive: true, force: true });
});

it("npm start, where Electron cannot be downloaded, prints one line pointing to `presage serve` and exits 1", async () => {
    const env: NodeJS.ProcessEnv = {
        ...process.env,
        // An empty Electron folder (so an installed Electron does not count) and an empty download cache.
        ELECTRON_OVERRIDE_DIST_PATH: join(dir, "electron-dist"),
        electron_config_cache: join(dir, "cache"),
        ELECTRON_MIRROR: mirror
    };
    const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
        const child = spawn(process.execPath, [join(packageRoot, "scripts", "start.js")], { cwd: packageRoot, env });
        let output = "";
        child.stdout.on("data", (d) => (output += d));
        child.stderr.on("data", (d) => (output += d));
        child.on("exit", (code) => resolve({ code, output }));
    });
    // The download was really tried (and refused).
    expect(requests.some((url) => url.includes("electron-v"))).toBe(true);
    expect(code).toBe(1);
    expect(output).toBe("presage: Electron could not be downloaded here; run the same app in a browser with `npx presage serve`.\n");
}, 60_000);

it.skipIf(process.platform === "win32")("npm start launches Electron on this package with UV_THREADPOOL_SIZE=1, whatever the caller's environment", async () => {
    // A stand-in for Electron's binary that writes down how it was started.
    const dist = join(dir, "fake-electron");
    const pathFile = join(packageRoot, "node_modules", "electron", "path.txt");
    const binary = join(dist, existsSync(pathFile) ? readFileSync(pathFile, "utf8").trim() : "electron");
    const record = join(dir, "launch.txt");
    mkdirSync(join(binary, ".."), { recursive: true });
    writeFileSync(binary, `#!/bin/sh\nprintf '%s\\n' "UV_THREADPOOL_SIZE=$UV_THREADPOOL_SIZE" "$@" > '${record}'\n`);
    chmodSync(binary, 0o755);
    // SQLite for Electron is a download: where it is not here yet, a placeholder stands in for this run only.
    const sqlite = electronSqlitePath(packageRoot, electronAbi(installedElectronVersion(packageRoot)), process.platform, process.arch);
    const placeholder = !existsSync(sqlite);
    if (placeholder) {
        mkdirSync(join(sqlite, ".."), { recursive: true });
        copyFileSync(join(packageRoot, "node_modules", "better-sqlite3", "build", "Release", "better_sqlite3.node"), sqlite);
    }
    try {
        const code = await new Promise<number | null>((resolve) => {
            const child = spawn(process.execPath, [join(packageRoot, "scripts", "start.js"), "--flag"], {
                cwd: packageRoot, stdio: "ignore", env: { ...process.env, UV_THREADPOOL_SIZE: "4", ELECTRON_OVERRIDE_DIST_PATH: dist }
            });
            child.on("exit", resolve);
        });
        expect(code).toBe(0);
        expect(readFileSync(record, "utf8").split("\n").filter(Boolean)).toEqual(["UV_THREADPOOL_SIZE=1", packageRoot, "--flag"]);
        expect(existsSync(join(packageRoot, "electron", "dist", "main.js"))).toBe(true);
        expect(existsSync(join(packageRoot, "renderer", "dist", "index.html"))).toBe(true);
    } finally {
        if (placeholder) rmSync(join(sqlite, ".."), { recursive: true, force: true });
    }
}, 180_000);
