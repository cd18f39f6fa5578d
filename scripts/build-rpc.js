#!/usr/bin/env node
// `npm run build:rpc`: builds what remote workers (llama.cpp's RPC backend) need, from the llama.cpp
// source node-llama-cpp ships (no download):
//   1. node-llama-cpp's binding with GGML_RPC=ON, CPU only, into node-llama-cpp's localBuilds under a
//      folder named by those options, so the default runtime stays the prebuilt binaries;
//   2. llama.cpp's rpc-server (`ggml-rpc-server`), the program each worker machine runs, into
//      native/llama-rpc/build/bin;
//   3. Presage's small addon that registers workers in that binding (native-models/runtime/rpc).
// `--force` rebuilds the binding even when it is there. Prints how long each step took.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { availableParallelism } from "node:os";
import { dirname, join, sep } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const force = process.argv.includes("--force");
const jobs = String(availableParallelism());
const started = Date.now();

/** The binding's build options; native-models/runtime/rpc-workers.ts finds the runtime by the same ones. */
const rpcCmakeOptions = { GGML_RPC: "ON" };

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
const llamaCppSource = join(nodeLlamaCpp, "llama", "llama.cpp");
const options = { gpu: false, cmakeOptions: rpcCmakeOptions, usePrebuiltBinaries: false, existingPrebuiltBinaryMustMatchBuildOptions: true, logLevel: LlamaLogLevel.error };

try {
    await step("node-llama-cpp's binding with llama.cpp's RPC backend (CPU)", async () => {
        const existing = force ? null : await getLlama({ ...options, build: "never", progressLogs: false, dryRun: true }).catch(() => null);
        if (existing != null) {
            console.log("presage: already built (--force rebuilds it)");
            return;
        }
        // forceRebuild clones the bundled source into node-llama-cpp's llama/llama.cpp when it is not there.
        const llama = await getLlama({ ...options, build: "forceRebuild", progressLogs: true });
        await llama.dispose();
    });

    await step("llama.cpp's rpc-server (ggml-rpc-server)", () => {
        const build = join(root, "native", "llama-rpc", "build");
        execFileSync("cmake", ["-S", llamaCppSource, "-B", build, "-DCMAKE_BUILD_TYPE=Release", "-DGGML_RPC=ON", "-DGGML_NATIVE=ON", "-DLLAMA_CURL=OFF",
            "-DLLAMA_BUILD_TESTS=OFF", "-DLLAMA_BUILD_EXAMPLES=OFF", "-DLLAMA_BUILD_SERVER=OFF", "-DLLAMA_BUILD_TOOLS=ON"], { stdio: ["ignore", "ignore", "inherit"] });
        execFileSync("cmake", ["--build", build, "--config", "Release", "-j", jobs, "--target", "ggml-rpc-server"], { stdio: "inherit" });
        console.log(`presage: ${join(build, "bin", "ggml-rpc-server")}`);
    });

    await step("Presage's RPC addon (node-gyp)", () => {
        const nodeGyp = join(root, "node_modules", "node-gyp", "bin", "node-gyp.js");
        // Offline, node-gyp needs the headers of the Node that runs it: an install prefix with include/node.
        const prefix = join(dirname(process.execPath), "..");
        const nodedir = process.env.npm_config_nodedir == null && existsSync(join(prefix, "include", "node", "node_api.h")) ? [`--nodedir=${prefix}`] : [];
        execFileSync(process.execPath, [nodeGyp, "rebuild", "--silent", "-j", jobs, ...nodedir], { cwd: join(root, "native-models", "runtime", "rpc"), stdio: ["ignore", "ignore", "inherit"] });
    });
} catch (err) {
    console.error(`presage: the RPC build failed after ${elapsed(started)}: ${String(err?.message ?? err).split("\n")[0]}`);
    process.exit(1);
}
console.log(`presage: the RPC build is ready (${elapsed(started)} in all). Workers: run native/llama-rpc/build/bin/ggml-rpc-server -H <a private address> on each, then presage serve --rpc host:port,...`);
