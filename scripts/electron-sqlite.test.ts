import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, copyFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { electronSqliteBindingPath, sqliteNativeBinding } from "../datastore/sqlite-binding.ts";
import { packageRoot } from "../native-models/models-dir.ts";
import { electronAbi, electronSqlitePath, ensureElectronSqlite, installedElectronVersion } from "./electron-sqlite.js";

const moduleDir = join(packageRoot, "node_modules", "better-sqlite3");
const nodeBinary = join(moduleDir, "build", "Release", "better_sqlite3.node");
const sha = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

describe("better-sqlite3 for Electron's ABI", () => {
    const dir = mkdtempSync(join(tmpdir(), "presage-electron-sqlite-"));
    const requests: string[] = [];
    let server: Server;
    let base = "";

    beforeAll(async () => {
        // A prebuild tarball laid out as better-sqlite3 publishes them (build/Release/better_sqlite3.node).
        // Its binary is Node's (no Electron here to load one); what is tested is where it goes.
        const stage = join(dir, "stage");
        mkdirSync(join(stage, "build", "Release"), { recursive: true });
        copyFileSync(nodeBinary, join(stage, "build", "Release", "better_sqlite3.node"));
        expect(spawnSync("tar", ["-czf", join(dir, "prebuild.tar.gz"), "-C", stage, "build"]).status).toBe(0);
        server = createServer((req, res) => {
            requests.push(req.url ?? "");
            if (req.url?.includes("-electron-v") && !req.url.includes("missing")) res.end(readFileSync(join(dir, "prebuild.tar.gz")));
            else res.writeHead(404).end("not found");
        });
        await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
        base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(async () => {
        await new Promise((resolve) => server?.close(resolve));
        rmSync(dir, { recursive: true, force: true });
    });

    it("goes to its own folder, named by Electron's ABI, and leaves Node's binary alone", async () => {
        const before = { hash: sha(nodeBinary), mtime: statSync(nodeBinary).mtimeMs };
        const version = installedElectronVersion(packageRoot);
        const abi = electronAbi(version, moduleDir);
        expect(Number(abi)).toBeGreaterThan(Number(process.versions.modules));
        const root = join(dir, "app");
        const path = await ensureElectronSqlite({
            root, moduleDir, electronVersion: version, platform: "linux", arch: "x64", buildFromSource: false,
            downloadUrl: `${base}/{name}-v{version}-{runtime}-v{abi}-{platform}{libc}-{arch}.tar.gz`,
            env: { ...process.env, npm_config_cache: join(dir, "npm-cache") }
        });
        expect(path).toBe(electronSqlitePath(root, abi, "linux", "x64"));
        // The datastore looks for it exactly there.
        expect(path).toBe(electronSqliteBindingPath(abi, { platform: "linux", arch: "x64" }, root));
        expect(requests.at(-1)).toBe(`/better-sqlite3-v12.6.2-electron-v${abi}-linux-x64.tar.gz`);
        expect(sha(path)).toBe(before.hash);
        expect({ hash: sha(nodeBinary), mtime: statSync(nodeBinary).mtimeMs }).toEqual(before);

        // Present: not fetched again.
        const count = requests.length;
        await ensureElectronSqlite({ root, moduleDir, electronVersion: version, platform: "linux", arch: "x64", buildFromSource: false, downloadUrl: `${base}/x` });
        expect(requests.length).toBe(count);
    });

    it("says in one line when there is no prebuild and it may not build one", async () => {
        const attempt = ensureElectronSqlite({
            root: join(dir, "app2"), moduleDir, electronVersion: "45.5.0", platform: "darwin", arch: "arm64", buildFromSource: false,
            downloadUrl: `${base}/missing-{abi}.tar.gz`, env: { ...process.env, npm_config_cache: join(dir, "npm-cache") }
        });
        await expect(attempt).rejects.toThrow(/^no prebuilt better-sqlite3 for Electron 45\.5\.0 \(darwin-arm64\) could be downloaded \(No prebuilt binaries found .*\); build it on a darwin-arm64 machine$/);
        expect(statSync(nodeBinary).isFile()).toBe(true);
    });

    it("is chosen through nativeBinding under Electron, and not under Node", () => {
        const root = join(dir, "app");
        const abi = electronAbi(installedElectronVersion(packageRoot), moduleDir);
        expect(sqliteNativeBinding(process.versions)).toBeUndefined();
        expect(sqliteNativeBinding({ modules: "115" }, { platform: "linux", arch: "x64" }, root)).toBeUndefined();
        expect(sqliteNativeBinding({ electron: "45.5.0", modules: abi }, { platform: "linux", arch: "x64" }, root))
            .toBe(electronSqlitePath(root, abi, "linux", "x64"));
        expect(() => sqliteNativeBinding({ electron: "45.5.0", modules: abi }, { platform: "win32", arch: "arm64" }, root))
            .toThrow(/^SQLite for Electron 45\.5\.0 \(ABI \d+, win32-arm64\) is missing at .*; run "npm start" with network access, or "node scripts\/electron-sqlite\.js"\.$/);
    });
});
