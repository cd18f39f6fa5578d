// electron-builder configuration for `npm run dist` (on a release machine: it downloads Electron).
// Each pattern is checked against the installed layout by electron/packaging.test.ts, which fails on
// a pattern that matches nothing. Packaging builds for the machine's own platform: node-llama-cpp
// installs only that platform's binaries (see README, "Packaging").
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Arch } from "electron-builder";
import { ensureElectronSqlite } from "../scripts/electron-sqlite.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const localBuilds = "node_modules/node-llama-cpp/llama/localBuilds";

/**
 * The RPC build (`npm run build:rpc`), where it is built here, so the app can use remote workers:
 * node-llama-cpp's RPC binding (what it loads from a local build: Release and buildDone.status, not the
 * object files), our addon that registers workers, and the rpc-server to copy to worker machines.
 * Patterns only for what exists: a plain install packages as before. The binding's folder is the one
 * whose build metadata says GGML_RPC=ON on the CPU (as native-models/runtime/rpc-workers.ts finds it).
 */
function rpcBuild() {
    const files = [];
    const unpack = [];
    if (existsSync(join(root, localBuilds))) {
        // Every local build's intermediates (tens of MB) and the source node-llama-cpp cloned to build them stay behind.
        files.push(`!${localBuilds}/**/*`);
        const folder = readdirSync(join(root, localBuilds)).find((f) => {
            const metadata = join(root, localBuilds, f, "Release", "_nlcBuildMetadata.json");
            if (!existsSync(metadata) || !existsSync(join(root, localBuilds, f, "buildDone.status"))) return false;
            const options = JSON.parse(readFileSync(metadata, "utf8")).buildOptions ?? {};
            return options.gpu === false && options.customCmakeOptions?.GGML_RPC === "ON" && Object.keys(options.customCmakeOptions).length === 1;
        });
        if (folder != null) {
            files.push(`${localBuilds}/${folder}/Release/**/*`, `${localBuilds}/${folder}/buildDone.status`);
            unpack.push(`${localBuilds}/${folder}/**`);
        }
    }
    if (existsSync(join(root, "node_modules/node-llama-cpp/llama/llama.cpp"))) files.push("!node_modules/node-llama-cpp/llama/llama.cpp/**/*");
    if (existsSync(join(root, "native-models/runtime/rpc/build/Release/presage_rpc.node"))) files.push("native-models/runtime/rpc/build/Release/presage_rpc.node");
    if (existsSync(join(root, "native/llama-rpc/build/bin/ggml-rpc-server"))) files.push("native/llama-rpc/build/bin/**/*");
    return { files, unpack };
}
const rpc = rpcBuild();

/** @type {import("electron-builder").Configuration} */
const config = {
    appId: "ai.presage.desktop",
    productName: "Presage",
    executableName: "presage",
    directories: { output: "dist/app", buildResources: "build" },
    asar: true,
    // Never rebuild node_modules in place for Electron: that would take the Node build of better-sqlite3
    // away from the CLI, `presage serve` and the tests. Electron's copy comes from native/ (beforePack).
    npmRebuild: false,
    nodeGypRebuild: false,
    // better-sqlite3 for Electron's ABI, for each architecture packaged (prebuilt, from its releases).
    // node-llama-cpp is N-API: its binaries need no rebuild.
    async beforePack(context) {
        await ensureElectronSqlite({ platform: context.electronPlatformName, arch: Arch[context.arch], buildFromSource: false });
    },
    files: [
        "package.json",
        "electron/dist/**",
        "renderer/dist/**",
        "models/stories260K.gguf",
        "native/better-sqlite3/electron-v*-${platform}-${arch}/**",
        // node-llama-cpp: this target's prebuilt binaries only (its Electron guide). Its own bins/ holds
        // only notes that the binaries moved to the @node-llama-cpp packages.
        "!node_modules/node-llama-cpp/bins/**/*",
        "!node_modules/@node-llama-cpp/*/bins/**/*",
        "node_modules/@node-llama-cpp/${os}-${arch}*/bins/**/*",
        // better-sqlite3: Node's build and the C sources stay behind; Electron's binary is native/'s.
        "!node_modules/better-sqlite3/build/**",
        "!node_modules/better-sqlite3/deps/**",
        "!node_modules/better-sqlite3/src/**",
        ...rpc.files
    ],
    // Native code cannot read inside the asar archive: node-llama-cpp's binaries (its Electron guide),
    // SQLite's addon, every other native addon (ipull's reflink, which node-llama-cpp downloads with),
    // and the built-in model, which llama.cpp maps from disk.
    asarUnpack: [
        "node_modules/@node-llama-cpp/*",
        "native/**",
        "**/*.node",
        "models/stories260K.gguf",
        ...rpc.unpack
    ],
    mac: {
        category: "public.app-category.productivity",
        target: [{ target: "dmg", arch: ["arm64", "x64"] }],
        hardenedRuntime: true,
        // V8's JIT, and node-llama-cpp's and SQLite's unsigned native libraries.
        entitlements: "build/entitlements.mac.plist",
        entitlementsInherit: "build/entitlements.mac.plist"
    },
    win: { target: [{ target: "nsis", arch: ["x64"] }] },
    nsis: { oneClick: false, perMachine: false, allowToChangeInstallationDirectory: true },
    linux: {
        target: [{ target: "AppImage", arch: ["x64"] }, { target: "deb", arch: ["x64"] }],
        category: "Development",
        maintainer: "Presage developers"
    }
};

export default config;
