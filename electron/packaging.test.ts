import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, sep } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { packageRoot } from "../native-models/models-dir.ts";
import { findRpcBinding } from "../native-models/runtime/rpc-workers.ts";
import { buildElectron } from "../scripts/build-electron.js";
import { electronAbi, electronSqlitePath, installedElectronVersion } from "../scripts/electron-sqlite.js";

// electron-builder's own pattern matcher (minimatch) and schema check, from the installed electron-builder.
const require = createRequire(join(packageRoot, "node_modules", "app-builder-lib", "package.json"));
const { Minimatch } = require("minimatch") as typeof import("minimatch");
const { validateConfiguration } = require("./out/util/config/config.js") as { validateConfiguration(config: unknown, logger: unknown): Promise<void> };

const config = (await import("../build/electron-builder.mjs")).default as { files: string[]; asarUnpack: string[]; mac: unknown; win: unknown; linux: unknown; npmRebuild: boolean };

/** electron-builder's macros, for a package built on this machine (it builds for its own platform). */
const macros: Record<string, string> = {
    os: ({ darwin: "mac", win32: "win", linux: "linux" } as Record<string, string>)[process.platform] ?? process.platform,
    arch: process.arch,
    platform: process.platform
};
const expand = (pattern: string) => pattern.replace(/\$\{(\w+)\}/g, (_m, name: string) => {
    if (macros[name] == null) throw new Error(`unknown macro \${${name}} in ${pattern}`);
    return macros[name]!;
});

/** Every file and folder of the package as `npm ci` installed it, relative and with forward slashes. */
function installedLayout(): { paths: string[]; files: string[] } {
    const paths: string[] = [];
    const files: string[] = [];
    const walk = (dir: string) => {
        for (const entry of readdirSync(dir, { withFileTypes: true })) {
            if (dir === packageRoot && (entry.name === ".git" || entry.name === "dist" || entry.name === "test-results")) continue;
            const path = join(dir, entry.name);
            const rel = relative(packageRoot, path).split(sep).join("/");
            paths.push(rel);
            if (entry.isDirectory()) walk(path);
            else files.push(rel);
        }
    };
    walk(packageRoot);
    return { paths, files };
}

describe("packaging (build/electron-builder.mjs)", () => {
    let layout: string[];
    let files: string[];
    const sqlite = relative(packageRoot, electronSqlitePath(packageRoot, electronAbi(installedElectronVersion(packageRoot)), process.platform, process.arch)).split(sep).join("/");

    beforeAll(async () => {
        // What `npm run dist` builds before electron-builder runs; the SQLite binary for Electron is
        // fetched by the config's beforePack (a download, so it is only named here, not fetched).
        await buildElectron();
        if (!existsSync(join(packageRoot, "renderer", "dist", "index.html"))) {
            const vite = spawnSync(process.execPath, [join(packageRoot, "node_modules", "vite", "bin", "vite.js"), "build", "--config", join(packageRoot, "renderer", "vite.config.ts")], { cwd: packageRoot, encoding: "utf8" });
            expect(vite.status, vite.stderr).toBe(0);
        }
        const installed = installedLayout();
        layout = [...new Set([...installed.paths, ...sqlite.split("/").map((_p, i, parts) => parts.slice(0, i + 1).join("/"))])];
        files = [...installed.files, sqlite];
    }, 120_000);

    it("is a valid electron-builder configuration with the promised targets", async () => {
        await expect(validateConfiguration(config, { isEnabled: false, add: () => undefined })).resolves.toBeUndefined();
        expect(config.mac).toMatchObject({ target: [{ target: "dmg", arch: ["arm64", "x64"] }] });
        expect(config.win).toMatchObject({ target: [{ target: "nsis" }] });
        expect(config.linux).toMatchObject({ target: [{ target: "AppImage" }, { target: "deb" }] });
        // node_modules is never rebuilt in place (Node's better-sqlite3 must stay Node's).
        expect(config.npmRebuild).toBe(false);
    });

    it("has no files or asarUnpack pattern that matches nothing in the installed layout", () => {
        const dead = [...config.files, ...config.asarUnpack].filter((pattern) => {
            const matcher = new Minimatch(expand(pattern.replace(/^!/, "")), { dot: true });
            return !layout.some((path) => matcher.match(path));
        });
        expect(dead).toEqual([]);
    });

    it("ships this platform's node-llama-cpp binaries only, no Node-ABI SQLite, and unpacks every native file", () => {
        const lock = JSON.parse(readFileSync(join(packageRoot, "package-lock.json"), "utf8")) as { packages: Record<string, { dev?: boolean }> };
        const production = new Set(Object.entries(lock.packages).filter(([k, v]) => k.startsWith("node_modules/") && v.dev !== true).map(([k]) => k));
        /** The package a path belongs to (the deepest node_modules/<name>), and whether npm installs it for production. */
        const isProduction = (path: string) => {
            const m = /^(.*node_modules\/(?:@[^/]+\/)?[^/]+)/.exec(path);
            return m != null && production.has(m[1]!);
        };
        const filePatterns = config.files.map((pattern) => ({ negated: pattern.startsWith("!"), matcher: new Minimatch(expand(pattern.replace(/^!/, "")), { dot: true }) }));
        const unpackPatterns = config.asarUnpack.map((pattern) => new Minimatch(expand(pattern), { dot: true }));
        // electron-builder applies `files` in order, the last matching pattern deciding; production
        // node_modules are in unless a pattern takes them out, our own files only when a pattern names them.
        const shipped = (path: string) => {
            let included = path.startsWith("node_modules/") && isProduction(path);
            for (const { negated, matcher } of filePatterns) if (matcher.match(path)) included = !negated;
            return included;
        };
        // A folder matched by asarUnpack is unpacked with everything in it.
        const unpacked = (path: string) => path.split("/").some((_s, i, parts) => unpackPatterns.some((m) => m.match(parts.slice(0, i + 1).join("/"))));

        const llama = files.filter((p) => /^node_modules\/@node-llama-cpp\/[^/]+\/bins\//.test(p));
        const own = `node_modules/@node-llama-cpp/${macros.os}-${macros.arch}`;
        const ours = llama.filter((p) => p.startsWith(own));
        const others = llama.filter((p) => !p.startsWith(own));
        expect(ours.length).toBeGreaterThan(0);
        expect(others.length).toBeGreaterThan(0);
        expect(ours.filter((p) => !shipped(p))).toEqual([]);
        expect(others.filter(shipped)).toEqual([]);
        expect(files.filter((p) => p.startsWith("node_modules/better-sqlite3/build/") && shipped(p))).toEqual([]);
        expect(shipped("node_modules/better-sqlite3/lib/database.js")).toBe(true);
        for (const p of [sqlite, "electron/dist/main.js", "electron/dist/preload.cjs", "electron/dist/ingest-worker.js", "electron/dist/vocab-tokenizer.js", "electron/dist/worker-bootstrap.mjs", "renderer/dist/index.html", "models/stories260K.gguf", "package.json"])
            expect(shipped(p), p).toBe(true);
        // Nothing from the sources, the tests or devDependencies.
        for (const p of ["electron/main.ts", "core/app-services.ts", "native-models/models-dir.ts", "bin/presage.js", "node_modules/tsx/package.json", "node_modules/electron/index.js"])
            expect(shipped(p), p).toBe(false);

        for (const p of [...ours, sqlite, "models/stories260K.gguf"]) expect(unpacked(p), p).toBe(true);
        const nativeShipped = files.filter((p) => p.endsWith(".node") && isProduction(p) && shipped(p));
        expect(nativeShipped.filter((p) => !unpacked(p))).toEqual([]);
        expect(unpacked("electron/dist/main.js")).toBe(false);
    });

    it("ships the RPC build where `npm run build:rpc` made it, unpacked, without its object files or llama.cpp's source", () => {
        // As electron-builder decides: production node_modules are in unless a pattern takes them out, our own files only when named.
        const patterns = config.files.map((pattern) => ({ negated: pattern.startsWith("!"), matcher: new Minimatch(expand(pattern.replace(/^!/, "")), { dot: true }) }));
        const shipped = (path: string) => patterns.reduce((included, { negated, matcher }) => (matcher.match(path) ? !negated : included), path.startsWith("node_modules/node-llama-cpp/"));
        const unpackPatterns = config.asarUnpack.map((pattern) => new Minimatch(expand(pattern), { dot: true }));
        const unpacked = (path: string) => path.split("/").some((_s, i, parts) => unpackPatterns.some((m) => m.match(parts.slice(0, i + 1).join("/"))));
        const binding = findRpcBinding();
        if (binding == null) {
            // A plain install: nothing of it is named, and the package is as before.
            expect(config.files.filter((p) => p.includes("localBuilds/") && !p.startsWith("!"))).toEqual([]);
            return;
        }
        const release = relative(packageRoot, dirname(binding)).split(sep).join("/");
        const folder = dirname(release);
        const wanted = [...files.filter((p) => p.startsWith(`${release}/`)), `${folder}/buildDone.status`, "native-models/runtime/rpc/build/Release/presage_rpc.node",
            ...files.filter((p) => p.startsWith("native/llama-rpc/build/bin/"))];
        expect(wanted).toContain(`${release}/llama-addon.node`);
        expect(wanted).toContain("native/llama-rpc/build/bin/ggml-rpc-server");
        expect(wanted.filter((p) => !shipped(p))).toEqual([]);
        expect(wanted.filter((p) => !unpacked(p))).toEqual([]);
        const leftBehind = files.filter((p) => (p.startsWith(`${folder}/`) && !p.startsWith(`${release}/`) && p !== `${folder}/buildDone.status`) || p.startsWith("node_modules/node-llama-cpp/llama/llama.cpp/") || p.startsWith("native/llama-rpc/build/ggml/"));
        expect(leftBehind.length).toBeGreaterThan(0);
        expect(leftBehind.filter(shipped)).toEqual([]);
    });
});
