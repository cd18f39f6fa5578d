#!/usr/bin/env node
// `npm run build:rpc`: builds what remote workers (llama.cpp's RPC backend) need, from the llama.cpp
// source node-llama-cpp ships (no download):
//   1. node-llama-cpp's binding with GGML_RPC=ON, CPU only, into node-llama-cpp's localBuilds under a
//      folder named by those options, so the default runtime stays the prebuilt binaries;
//   2. llama.cpp's rpc-server (`ggml-rpc-server`), the program each worker machine runs, into
//      native/llama-rpc/build/bin;
//   3. Presage's small addon that registers workers in that binding (native-models/runtime/rpc).
// Steps 1 and 2 take 15-20 minutes on 2 cores, and `npm ci` deletes node_modules with the binding in
// it, so both are kept in Presage's cache folder (presageCacheDir(): PRESAGE_CACHE_DIR or
// ~/.cache/presage) under llama-rpc/<node-llama-cpp version>-<hash of everything that shapes the
// binaries>/, and copied back from there (seconds) when present. `--force` rebuilds and replaces the
// cached copy. Prints what it did and how long each step took.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { arch, availableParallelism, cpus, platform } from "node:os";
import { dirname, join, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { tsImport } from "tsx/esm/api";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const force = process.argv.includes("--force");
const jobs = String(availableParallelism());
const started = Date.now();

// The binding's build options and the cache folder come from the sources the app finds them with.
const { rpcCmakeOptions } = await tsImport("../native-models/runtime/rpc-workers.ts", import.meta.url);
const { presageCacheDir } = await tsImport("../native-models/models-dir.ts", import.meta.url);

function elapsed(since) {
    const s = Math.round((Date.now() - since) / 1000);
    return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}

async function step(name, run) {
    const t = Date.now();
    console.log(`presage: ${name}…`);
    await run();
    console.log(`presage: ${name}: done in ${elapsed(t)}`);
}

const { getLlama, LlamaLogLevel } = await import("node-llama-cpp");
// Its package.json is not exported: the package folder is the one its entry point lies in.
const entry = fileURLToPath(import.meta.resolve("node-llama-cpp"));
const nodeLlamaCpp = entry.slice(0, entry.lastIndexOf(`${sep}node-llama-cpp${sep}`) + `${sep}node-llama-cpp`.length);
const nodeLlamaCppVersion = JSON.parse(readFileSync(join(nodeLlamaCpp, "package.json"), "utf8")).version;
const llamaCppTag = JSON.parse(readFileSync(join(nodeLlamaCpp, "llama", "llama.cpp.info.json"), "utf8")).tag;
const llamaCppSource = join(nodeLlamaCpp, "llama", "llama.cpp");
const localBuilds = join(nodeLlamaCpp, "llama", "localBuilds");
const rpcServerBuild = join(root, "native", "llama-rpc", "build");
const options = { gpu: false, cmakeOptions: rpcCmakeOptions, usePrebuiltBinaries: false, existingPrebuiltBinaryMustMatchBuildOptions: true, logLevel: LlamaLogLevel.error };
// $ORIGIN: the rpc-server finds its ggml libraries beside it wherever the folder is copied (from the
// cache, into a package), not in the build folder it was linked in.
const rpcServerCmakeArgs = ["-DCMAKE_BUILD_TYPE=Release", "-DGGML_RPC=ON", "-DGGML_NATIVE=ON", "-DLLAMA_CURL=OFF", "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF",
    "-DLLAMA_BUILD_SERVER=OFF", "-DLLAMA_BUILD_TOOLS=ON", "-DCMAKE_BUILD_WITH_INSTALL_RPATH=ON", "-DCMAKE_INSTALL_RPATH=$ORIGIN"];

// Everything that makes other binaries: another node-llama-cpp or llama.cpp, other options, another
// platform, or another CPU (both builds are native: they use every instruction this CPU has).
const cacheKey = createHash("sha256").update(JSON.stringify({ llamaCppTag, rpcCmakeOptions, rpcServerCmakeArgs, platform: platform(), arch: arch(), cpu: cpus()[0]?.model ?? "" })).digest("hex").slice(0, 16);
const cache = join(presageCacheDir(), "llama-rpc", `${nodeLlamaCppVersion}-${cacheKey}`);
const cachedServer = join(cache, "rpc-server");
const cachedBinding = join(cache, "localBuilds");
// ggml's headers, for our addon: node-llama-cpp's source folder is cloned only by a build, so a restored
// binding has none.
const cachedHeaders = join(cache, "ggml-include");
const cacheComplete = join(cache, "complete.json");

/** The RPC binding node-llama-cpp loads (build: never), or null; `dryRun` only finds it. */
async function rpcBinding({ dryRun }) {
    return getLlama({ ...options, build: "never", progressLogs: false, dryRun }).catch(() => null);
}

/** The binding's folders in localBuilds that `npm run build:rpc` made, by node-llama-cpp's metadata. */
function rpcBindingFolders() {
    return (existsSync(localBuilds) ? readdirSync(localBuilds) : []).filter((folder) => {
        const metadata = join(localBuilds, folder, "Release", "_nlcBuildMetadata.json");
        if (!existsSync(metadata) || !existsSync(join(localBuilds, folder, "buildDone.status"))) return false;
        const buildOptions = JSON.parse(readFileSync(metadata, "utf8")).buildOptions ?? {};
        const custom = buildOptions.customCmakeOptions ?? {};
        return buildOptions.gpu === false && JSON.stringify(custom) === JSON.stringify(rpcCmakeOptions);
    });
}

/** Copies the built binaries into the cache: a folder written whole, then renamed, so a cut copy is never used. */
function saveToCache() {
    const folders = rpcBindingFolders();
    const serverBin = join(rpcServerBuild, "bin");
    if (folders.length !== 1 || !existsSync(join(serverBin, "ggml-rpc-server"))) return false;
    const partial = `${cache}.partial-${process.pid}`;
    rmSync(partial, { recursive: true, force: true });
    // What node-llama-cpp needs to load a local build: Release (the binding and its libraries), bin and
    // buildDone.status; the object files stay behind.
    for (const part of ["Release", "bin", "buildDone.status"])
        if (existsSync(join(localBuilds, folders[0], part))) cpSync(join(localBuilds, folders[0], part), join(partial, "localBuilds", folders[0], part), { recursive: true, verbatimSymlinks: true });
    cpSync(serverBin, join(partial, "rpc-server"), { recursive: true, verbatimSymlinks: true });
    cpSync(join(llamaCppSource, "ggml", "include"), join(partial, "ggml-include"), { recursive: true });
    writeFileSync(join(partial, "complete.json"), JSON.stringify({ nodeLlamaCppVersion, llamaCppTag, rpcCmakeOptions, rpcServerCmakeArgs, bindingFolder: folders[0], savedAt: new Date().toISOString() }, null, 2) + "\n");
    rmSync(cache, { recursive: true, force: true });
    mkdirSync(dirname(cache), { recursive: true });
    renameSync(partial, cache);
    return true;
}

/** Copies the cached binaries back into node-llama-cpp's localBuilds and native/llama-rpc/build/bin. */
function restoreFromCache() {
    const { bindingFolder } = JSON.parse(readFileSync(cacheComplete, "utf8"));
    rmSync(join(localBuilds, bindingFolder), { recursive: true, force: true });
    cpSync(join(cachedBinding, bindingFolder), join(localBuilds, bindingFolder), { recursive: true, verbatimSymlinks: true });
    rmSync(join(rpcServerBuild, "bin"), { recursive: true, force: true });
    cpSync(cachedServer, join(rpcServerBuild, "bin"), { recursive: true, verbatimSymlinks: true });
}

/** Whether the rpc-server runs here (its libraries found beside it): it prints its usage and exits 0. */
function rpcServerRuns() {
    try {
        execFileSync(join(rpcServerBuild, "bin", "ggml-rpc-server"), ["--help"], { stdio: "ignore", timeout: 10_000 });
        return true;
    } catch {
        return false;
    }
}

let restored = false;
try {
    if (!force && existsSync(cacheComplete))
        await step(`restoring the RPC build from the cache (${cache})`, async () => {
            restoreFromCache();
            const llama = await rpcBinding({ dryRun: false });
            if (llama == null || llama.cmakeOptions.GGML_RPC !== "ON" || !rpcServerRuns()) {
                console.log("presage: the cached copy does not load here: building instead");
                return;
            }
            await llama.dispose();
            restored = true;
        });

    if (!restored) {
        await step("node-llama-cpp's binding with llama.cpp's RPC backend (CPU)", async () => {
            const existing = force ? null : await rpcBinding({ dryRun: true });
            if (existing != null) {
                console.log("presage: already built (--force rebuilds it)");
                return;
            }
            // forceRebuild clones the bundled source into node-llama-cpp's llama/llama.cpp when it is not there.
            const llama = await getLlama({ ...options, build: "forceRebuild", progressLogs: true });
            await llama.dispose();
        });

        await step("llama.cpp's rpc-server (ggml-rpc-server)", () => {
            if (!existsSync(join(llamaCppSource, "CMakeLists.txt"))) {
                // The binding was there already, so node-llama-cpp did not clone its source: clone it the same way.
                execFileSync(process.execPath, [join(nodeLlamaCpp, "dist", "cli", "cli.js"), "source", "download", "--skipBuild", "--noUsageExample"], { stdio: ["ignore", "ignore", "inherit"] });
            }
            execFileSync("cmake", ["-S", llamaCppSource, "-B", rpcServerBuild, ...rpcServerCmakeArgs], { stdio: ["ignore", "ignore", "inherit"] });
            execFileSync("cmake", ["--build", rpcServerBuild, "--config", "Release", "-j", jobs, "--target", "ggml-rpc-server"], { stdio: "inherit" });
            console.log(`presage: ${join(rpcServerBuild, "bin", "ggml-rpc-server")}`);
        });

        await step(`keeping the RPC build in the cache (${cache})`, () => {
            if (!saveToCache()) console.log("presage: not kept: the binding or the rpc-server is not where the build puts it");
        });
    }

    await step("Presage's RPC addon (node-gyp)", () => {
        const nodeGyp = join(root, "node_modules", "node-gyp", "bin", "node-gyp.js");
        // Offline, node-gyp needs the headers of the Node that runs it: an install prefix with include/node.
        const prefix = join(dirname(process.execPath), "..");
        const nodedir = process.env.npm_config_nodedir == null && existsSync(join(prefix, "include", "node", "node_api.h")) ? [`--nodedir=${prefix}`] : [];
        const headers = existsSync(join(llamaCppSource, "ggml", "include", "ggml-rpc.h")) ? join(llamaCppSource, "ggml", "include") : cachedHeaders;
        execFileSync(process.execPath, [nodeGyp, "rebuild", "--silent", "-j", jobs, ...nodedir, "--", `-Dggml_include=${headers}`], { cwd: join(root, "native-models", "runtime", "rpc"), stdio: ["ignore", "ignore", "inherit"] });
    });
} catch (err) {
    console.error(`presage: the RPC build failed after ${elapsed(started)}: ${String(err?.message ?? err).split("\n")[0]}`);
    process.exit(1);
}
console.log(`presage: the RPC build is ready (${restored ? "restored from the cache" : "built"}, ${elapsed(started)} in all). Workers: run native/llama-rpc/build/bin/ggml-rpc-server -H <a private address> on each, then presage serve --rpc host:port,...`);
