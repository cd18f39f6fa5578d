#!/usr/bin/env node
// better-sqlite3 for Electron's ABI, in its own folder.
//
// better-sqlite3 is a V8 addon (not N-API): the binary `npm ci` built in node_modules/better-sqlite3
// loads only in Node, and Electron refuses it (NODE_MODULE_VERSION mismatch). Rebuilding it in place
// (`electron-builder install-app-deps`, `@electron/rebuild`) would take Node's binary away from the CLI,
// `presage serve` and the tests. So this fetches the Electron build into
// native/better-sqlite3/electron-v<ABI>-<platform>-<arch>/better_sqlite3.node, working in a temporary
// copy of the package, and the datastore passes that file as better-sqlite3's `nativeBinding` only when
// `process.versions.electron` is set (datastore/sqlite-binding.ts: keep the two names in step).
// node-llama-cpp needs none of this: it is N-API, and its prebuilt binaries load in Node and Electron.
//
//   node scripts/electron-sqlite.js [--platform P] [--arch A] [--force]
//
// First the prebuilt binary better-sqlite3 publishes for that Electron (prebuild-install, from GitHub);
// where there is none, and the target is this machine, a build from source with Electron's headers
// (node-gyp; needs a C++ toolchain).
import { spawn } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const defaultRoot = join(dirname(fileURLToPath(import.meta.url)), "..");

/** The Electron version this package installs (node_modules/electron). */
export function installedElectronVersion(root = defaultRoot) {
    return JSON.parse(readFileSync(join(root, "node_modules", "electron", "package.json"), "utf8")).version;
}

/** NODE_MODULE_VERSION of an Electron version (node-abi, which prebuild-install itself uses). */
export function electronAbi(version, moduleDir = join(defaultRoot, "node_modules", "better-sqlite3")) {
    // node-abi is the table prebuild-install itself uses; resolve it through better-sqlite3's own dependency.
    const nodeAbi = createRequire(resolveFrom(moduleDir, "prebuild-install/package.json"))("node-abi");
    return String(nodeAbi.getAbi(version, "electron"));
}

/** The binary's path for one Electron ABI and target (datastore/sqlite-binding.ts reads the same). */
export function electronSqlitePath(root, abi, platform, arch) {
    return join(root, "native", "better-sqlite3", `electron-v${abi}-${platform}-${arch}`, "better_sqlite3.node");
}

/**
 * Makes sure better-sqlite3 for `electronVersion` on `platform`-`arch` is in `root`/native; returns
 * its path. Never writes under node_modules.
 * @param {object} options
 * @param {string} [options.root] the package (where native/ goes)
 * @param {string} [options.moduleDir] better-sqlite3's package (default: root's node_modules)
 * @param {string} [options.electronVersion]
 * @param {string} [options.platform]
 * @param {string} [options.arch]
 * @param {boolean} [options.force] fetch again even if present
 * @param {string} [options.downloadUrl] a prebuild URL template instead of GitHub (prebuild-install --download)
 * @param {boolean} [options.buildFromSource] build with node-gyp when no prebuild can be had (default: when the target is this machine)
 * @param {NodeJS.ProcessEnv} [options.env]
 * @returns {Promise<string>}
 * @throws Error with a one-line message
 */
export async function ensureElectronSqlite(options = {}) {
    const root = options.root ?? defaultRoot;
    const moduleDir = options.moduleDir ?? join(root, "node_modules", "better-sqlite3");
    const electronVersion = options.electronVersion ?? installedElectronVersion(root);
    const platform = options.platform ?? process.platform;
    const arch = options.arch ?? process.arch;
    const abi = electronAbi(electronVersion, moduleDir);
    const dest = electronSqlitePath(root, abi, platform, arch);
    if (!options.force && existsSync(dest) && statSync(dest).size > 0) return dest;

    const work = mkdtempSync(join(tmpdir(), "presage-sqlite-electron-"));
    const pkg = join(work, "better-sqlite3");
    try {
        // A copy without build/: whatever happens here, Node's binary is not touched.
        cpSync(moduleDir, pkg, { recursive: true, filter: (src) => !src.startsWith(join(moduleDir, "build")) && !src.includes(`${join(moduleDir, "node_modules")}`) });
        const env = cleanEnv(options.env ?? process.env);
        const prebuild = await run(process.execPath, [
            resolveFrom(moduleDir, "prebuild-install/bin.js"), "--runtime", "electron", "--target", electronVersion,
            "--platform", platform, "--arch", arch, ...(options.downloadUrl ? ["--download", options.downloadUrl] : [])
        ], pkg, env);
        let built = join(pkg, "build", "Release", "better_sqlite3.node");
        if (!prebuild.ok || !existsSync(built)) {
            const fromSource = options.buildFromSource ?? (platform === process.platform && arch === process.arch);
            if (!fromSource)
                throw new Error(`no prebuilt better-sqlite3 for Electron ${electronVersion} (${platform}-${arch}) could be downloaded (${prebuild.reason}); build it on a ${platform}-${arch} machine`);
            const gyp = await run(process.execPath, [
                resolveFrom(root, "node-gyp/bin/node-gyp.js"), "rebuild", "--release", `--target=${electronVersion}`, `--arch=${arch}`,
                "--dist-url=https://electronjs.org/headers"
            ], pkg, env);
            if (!gyp.ok) throw new Error(`better-sqlite3 for Electron ${electronVersion} could neither be downloaded (${prebuild.reason}) nor built (${gyp.reason})`);
            built = join(pkg, "build", "Release", "better_sqlite3.node");
        }
        mkdirSync(dirname(dest), { recursive: true });
        copyFileSync(built, dest);
        return dest;
    } finally {
        rmSync(work, { recursive: true, force: true });
    }
}

function resolveFrom(dir, request) {
    return createRequire(join(dir, "package.json")).resolve(request);
}

/** npm passes its config as npm_config_* to scripts; prebuild-install would read target/runtime/arch from them. */
function cleanEnv(env) {
    const out = {};
    for (const [key, value] of Object.entries(env)) {
        if (/^npm_config_/i.test(key) && !/^npm_config_(cache|proxy|https_proxy|noproxy|cafile|strict_ssl|local_address)$/i.test(key)) continue;
        out[key] = value;
    }
    return out;
}

/** Runs a command to its end without blocking this process (a caller may be serving the download). */
function run(command, args, cwd, env) {
    return new Promise((resolve) => {
        const child = spawn(command, args, { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
        let output = "";
        child.stdout.on("data", (d) => (output += d));
        child.stderr.on("data", (d) => (output += d));
        child.on("error", (err) => resolve(outcome(null, `${output}\n${err.message}`)));
        child.on("close", (code) => resolve(outcome(code, output)));
    });
}

function outcome(status, output) {
    if (status === 0) return { ok: true, reason: "" };
    const lines = output.split("\n").map((l) => l.trim()).filter(Boolean);
    // prebuild-install and node-gyp end with their most useful line ("prebuild-install warn install …").
    const last = lines.filter((l) => !/^gyp (info|ERR! (cwd|node -v|node-gyp -v|command|System))/.test(l)).at(-1) ?? `exit code ${status}`;
    return { ok: false, reason: last.replace(/^prebuild-install (warn|WARN) install /, "").slice(0, 300) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
    const { parseArgs } = await import("node:util");
    try {
        const { values } = parseArgs({ options: { platform: { type: "string" }, arch: { type: "string" }, force: { type: "boolean" } } });
        console.log(await ensureElectronSqlite(values));
    } catch (err) {
        console.error(`electron-sqlite: ${String(err?.message ?? err).split("\n")[0]}`);
        process.exitCode = 1;
    }
}
