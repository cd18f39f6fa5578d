#!/usr/bin/env node
// Builds what Electron runs (package.json "main": electron/dist/main.js), with esbuild:
// - electron/dist/main.js (+ app-*.js chunks): the main process bundled to ES modules. A packaged app
//   has no devDependencies (no tsx), so nothing runs from TypeScript source. node-llama-cpp and
//   better-sqlite3 stay external: node-llama-cpp finds its prebuilt binaries relative to its own files
//   (its Electron guide says never to bundle it), and better-sqlite3 loads a native addon; both are
//   `dependencies`, packaged in node_modules. Everything else our code imports is bundled in.
// - electron/dist/ingest-worker.js, vocab-tokenizer.js and worker-bootstrap.mjs: the document ingestion
//   worker and the tokenizer module it is handed, loaded from the files beside the bundle that names
//   them (datastore/ingest/worker-pool.ts, core/datastore-wiring.ts).
// - electron/dist/engine-child.js: the engine process (core/engine-process/engine-child.ts), which
//   electron/app.ts starts as a utilityProcess.
// - electron/dist/preload.cjs: the preload as one CommonJS file (a sandboxed preload can require
//   nothing but "electron").
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const out = join(root, "electron", "dist");

/** Packages the main bundle loads from node_modules at run time (all of them `dependencies`). */
export const mainExternals = ["electron", "node-llama-cpp", "better-sqlite3"];

/**
 * Builds electron/dist; resolves to its folder and esbuild's metafile of the main bundle (what each
 * output imports), which the tests read.
 * @returns {Promise<{ out: string, metafile: import("esbuild").Metafile }>}
 */
export async function buildElectron() {
    const { build } = await import("esbuild");
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out, { recursive: true });
    await build({
        entryPoints: [join(root, "electron", "preload.ts")],
        outfile: join(out, "preload.cjs"),
        bundle: true,
        platform: "node",
        format: "cjs",
        target: "node20",
        external: ["electron"],
        logLevel: "warning"
    });
    const main = await build({
        entryPoints: {
            main: join(root, "electron", "main.ts"),
            "ingest-worker": join(root, "datastore", "ingest", "ingest-worker.ts"),
            // The tokenizer the ingestion workers import (core/datastore-wiring.ts names it).
            "vocab-tokenizer": join(root, "native-models", "runtime", "vocab-tokenizer.ts"),
            // The engine process (llama.cpp, the drafters, the decoding loop), started as a utility process.
            "engine-child": join(root, "core", "engine-process", "engine-child.ts")
        },
        outdir: out,
        bundle: true,
        splitting: true,
        platform: "node",
        format: "esm",
        target: "node20",
        external: mainExternals,
        chunkNames: "[name]-[hash]",
        // Bundled CommonJS dependencies (mammoth, …) call require(): give the ES module bundle one.
        banner: { js: 'import { createRequire as __presageCreateRequire } from "node:module"; const require = __presageCreateRequire(import.meta.url);' },
        metafile: true,
        logLevel: "warning"
    });
    copyFileSync(join(root, "datastore", "ingest", "worker-bootstrap.mjs"), join(out, "worker-bootstrap.mjs"));
    return { out, metafile: main.metafile };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
    try {
        console.log(`built ${(await buildElectron()).out}`);
    } catch (err) {
        console.error(`build-electron: ${String(err?.message ?? err).split("\n")[0]}`);
        process.exitCode = 1;
    }
}
