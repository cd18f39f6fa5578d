import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { builtinModules } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { builtinModelPath, packageRoot } from "../native-models/models-dir.ts";
import { makeDocx, makePdf } from "../datastore/ingest/test-files.ts";
import { buildElectron, mainExternals } from "../scripts/build-electron.js";
import { invokeChannels, preloadChannels } from "./ipc-channels.ts";
import { EngineProcess } from "../core/engine-process/engine-process.ts";
import { forkEngineProcess } from "../core/engine-process/engine-channel.ts";

const manifest = JSON.parse(readFileSync(join(packageRoot, "package.json"), "utf8")) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };
const packageName = (specifier: string) => specifier.startsWith("@") ? specifier.split("/").slice(0, 2).join("/") : specifier.split("/")[0]!;
const isBuiltin = (specifier: string) => specifier.startsWith("node:") || builtinModules.includes(specifier.split("/")[0]!);

/**
 * A copy of the package as a packaged app sees it: the built electron/dist, package.json, and a
 * node_modules holding only what `dependencies` install (package-lock.json's entries not marked dev,
 * linked to the real ones; run with --preserve-symlinks so their own imports resolve here too).
 * Electron itself is a module of the Electron runtime: a recording fake stands in for it.
 */
function productionView(dir: string): { root: string; run(env: NodeJS.ProcessEnv, args?: string[]): { status: number | null; stdout: string; stderr: string; calls: unknown[][] } } {
    const root = join(dir, "app");
    mkdirSync(join(root, "node_modules"), { recursive: true });
    mkdirSync(join(root, "electron"), { recursive: true });
    symlinkSync(join(packageRoot, "electron", "dist"), join(root, "electron", "dist"));
    writeFileSync(join(root, "package.json"), readFileSync(join(packageRoot, "package.json")));
    const lock = JSON.parse(readFileSync(join(packageRoot, "package-lock.json"), "utf8")) as { packages: Record<string, { dev?: boolean }> };
    for (const [key, entry] of Object.entries(lock.packages)) {
        const name = key.startsWith("node_modules/") && key.split("node_modules/").length === 2 ? key.slice("node_modules/".length) : null;
        if (name == null || entry.dev === true || !existsSync(join(packageRoot, key))) continue;
        mkdirSync(join(root, "node_modules", name, ".."), { recursive: true });
        symlinkSync(join(packageRoot, key), join(root, "node_modules", name));
    }
    const fake = join(dir, "fake-electron.mjs");
    writeFileSync(fake, `
        const calls = [];
        process.on("exit", () => process.stdout.write("FAKE-ELECTRON " + JSON.stringify(calls) + "\\n"));
        const stub = (name) => new Proxy(function () {}, { get: (_t, key) => key === "then" ? undefined : stub(name + "." + String(key)), apply: () => { calls.push([name]); return stub(name + "()"); } });
        export const app = {
            isPackaged: true, name: "Presage",
            relaunch: (options) => calls.push(["relaunch", options, process.env.UV_THREADPOOL_SIZE ?? null]),
            exit: (code) => { calls.push(["exit", code]); process.exit(code); },
            setPath: (...a) => calls.push(["setPath", ...a]),
            getPath: () => ${JSON.stringify(join(dir, "userData"))},
            requestSingleInstanceLock: () => { calls.push(["requestSingleInstanceLock"]); return process.env.FAKE_SECOND_INSTANCE !== "1"; },
            on: (event) => calls.push(["on", event]),
            // Never ready: the module graph is what is checked, not the window.
            whenReady: () => { calls.push(["whenReady"]); return new Promise(() => {}); }
        };
        export const BrowserWindow = stub("BrowserWindow"), dialog = stub("dialog"), ipcMain = stub("ipcMain"), screen = stub("screen"),
            session = stub("session"), shell = stub("shell"), Menu = stub("Menu"), webUtils = stub("webUtils"), utilityProcess = stub("utilityProcess"),
            contextBridge = stub("contextBridge"), ipcRenderer = stub("ipcRenderer");
    `);
    writeFileSync(join(dir, "hooks.mjs"), `
        export async function resolve(specifier, context, next) {
            if (specifier === "electron") return { url: ${JSON.stringify(pathToFileURL(fake).href)}, shortCircuit: true };
            return next(specifier, context);
        }
    `);
    writeFileSync(join(dir, "register.mjs"), `import { register } from "node:module"; register(${JSON.stringify(pathToFileURL(join(dir, "hooks.mjs")).href)});`);
    return {
        root,
        run(env, args = []) {
            const result = spawnSync(process.execPath, ["--preserve-symlinks", "--preserve-symlinks-main", "--import", pathToFileURL(join(dir, "register.mjs")).href, join(root, "electron", "dist", "main.js"), ...args], {
                cwd: dir, encoding: "utf8", env, timeout: 60_000
            });
            const line = result.stdout.split("\n").find((l) => l.startsWith("FAKE-ELECTRON "));
            return { status: result.status, stdout: result.stdout, stderr: result.stderr, calls: line == null ? [] : JSON.parse(line.slice("FAKE-ELECTRON ".length)) };
        }
    };
}

describe("the Electron bundles", () => {
    const dir = mkdtempSync(join(tmpdir(), "presage-bundle-"));
    let built: Awaited<ReturnType<typeof buildElectron>>;
    let view: ReturnType<typeof productionView>;
    const baseEnv = () => {
        const env: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
        return env;
    };

    beforeAll(async () => {
        built = await buildElectron();
        view = productionView(dir);
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it("leave only dependencies (and Node's own modules) to load at run time", () => {
        const externals = new Set<string>();
        for (const output of Object.values(built.metafile.outputs))
            for (const i of output.imports) if (i.external) externals.add(i.path);
        const packages = [...externals].filter((s) => !isBuiltin(s)).map(packageName);
        expect(new Set(packages)).toEqual(new Set(mainExternals));
        for (const name of packages) if (name !== "electron") expect(Object.keys(manifest.dependencies)).toContain(name);
        // No TypeScript at run time: the ingestion worker is the bundled .js beside the code that starts it.
        const outputs = Object.keys(built.metafile.outputs).map((f) => f.split("/").at(-1));
        expect(outputs).toContain("ingest-worker.js");
        // ...and so is the tokenizer module the app hands the workers (core/datastore-wiring.ts names it by path).
        expect(outputs).toContain("vocab-tokenizer.js");
        const js = outputs.filter((f) => f!.endsWith(".js")).map((f) => readFileSync(join(built.out, f!), "utf8"));
        expect(js.some((code) => code.includes('"./vocab-tokenizer.js"'))).toBe(true);
    });

    it("load their whole module graph with devDependencies hidden", () => {
        const result = view.run({ ...baseEnv(), UV_THREADPOOL_SIZE: "1" });
        expect(result.stderr).toBe("");
        expect(result.status).toBe(0);
        // The app module ran to the point of waiting for Electron: everything it imports was found.
        expect(result.calls).toContainEqual(["requestSingleInstanceLock"]);
        expect(result.calls).toContainEqual(["whenReady"]);
        expect(result.calls.some((c) => c[0] === "relaunch")).toBe(false);
        for (const event of ["second-instance", "web-contents-created", "window-all-closed"]) expect(result.calls).toContainEqual(["on", event]);

        // A second instance hands over to the first (which focuses its window) and goes.
        const second = view.run({ ...baseEnv(), UV_THREADPOOL_SIZE: "1", FAKE_SECOND_INSTANCE: "1" });
        expect(second.calls.filter((c) => c[0] !== "on")).toEqual([["requestSingleInstanceLock"], ["exit", 0]]);

        // The view really hides devDependencies: a dev-only package cannot be found from it.
        const probe = join(view.root, "electron", "dist", "..", "probe.mjs");
        writeFileSync(probe, 'await import("tsx/esm/api");');
        const dev = spawnSync(process.execPath, ["--preserve-symlinks", probe], { encoding: "utf8" });
        expect(dev.status).not.toBe(0);
        expect(dev.stderr).toMatch(/Cannot find package 'tsx'/);
    });

    it("start without UV_THREADPOOL_SIZE=1 and never relaunch (the engine's own process has one pool thread)", () => {
        const first = view.run(baseEnv(), ["--some-flag"]);
        expect(first.stderr).toBe("");
        expect(first.calls.some((c) => c[0] === "relaunch" || c[0] === "exit")).toBe(false);
        expect(first.calls).toContainEqual(["whenReady"]);
    });

    it("include an engine process that loads a model and streams an answer with devDependencies hidden", async () => {
        expect(Object.keys(built.metafile.outputs).map((f) => f.split("/").at(-1))).toContain("engine-child.js");
        // The same bundle Electron starts as a utility process, here as a Node child process of the view.
        const engines = new EngineProcess({
            launch: () => forkEngineProcess({ entry: join(view.root, "electron", "dist", "engine-child.js"), execArgv: ["--preserve-symlinks"] })
        });
        try {
            const engine = await engines.load({ modelPath: builtinModelPath, threads: 1, calibrate: false, datastorePath: null });
            expect(engine.info.modelPath).toBe(builtinModelPath);
            const steps: unknown[] = [];
            const result = await engine.complete("Once upon a time", { maxTokens: 16, sampling: { temperature: 0 }, onStep: (s) => steps.push(s) });
            expect(result.tokens.length).toBeGreaterThan(0);
            expect(steps.length).toBeGreaterThan(0);
            const pid = engines.pid!;
            expect(readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0]).toBe("presage-engine");
        } finally {
            await engines.close();
        }
    });

    it("include an ingestion worker that reads and tokenizes a document on its own", async () => {
        const docx = join(dir, "story.md");
        writeFileSync(docx, "# Once upon a time\n\nThere was a little cat who liked to play.");
        const worker = new Worker(join(built.out, "worker-bootstrap.mjs"), {
            workerData: {
                entry: pathToFileURL(join(built.out, "ingest-worker.js")).href,
                tokenizerModule: pathToFileURL(join(built.out, "vocab-tokenizer.js")).href,
                modelPath: builtinModelPath
            }
        });
        try {
            const messages: { kind: string; result?: { type: string; outcome?: { status: string; text?: string; tokens?: ArrayLike<number> } } }[] = [];
            const next = () => new Promise<(typeof messages)[number]>((resolve, reject) => {
                worker.once("message", resolve);
                worker.once("error", reject);
            });
            messages.push(await next());
            expect(messages[0]!.kind).toBe("ready");
            // Text, and the formats whose libraries are bundled in (unpdf's pdf.js, mammoth).
            const pdf = join(dir, "story.pdf");
            writeFileSync(pdf, makePdf("The little dog ran to the park."));
            const word = join(dir, "story.docx");
            writeFileSync(word, makeDocx("The old owl sat on a branch."));
            for (const [id, path, format, expected] of [[1, docx, "text", "little cat"], [2, pdf, "pdf", "little dog"], [3, word, "docx", "old owl"]] as const) {
                worker.postMessage({ id, job: { type: "file", path, format, maxBytes: 1 << 20 } });
                const done = await next();
                expect(done, format).toMatchObject({ kind: "done", result: { type: "file", outcome: { status: "ready" } } });
                expect(done.result!.outcome!.text).toContain(expected);
                expect(done.result!.outcome!.tokens!.length).toBeGreaterThan(5);
            }
        } finally {
            await worker.terminate();
        }
    });

    it("build a preload that needs only electron, exposes only window.presage, and reports dropped files' paths", async () => {
        const code = readFileSync(join(built.out, "preload.cjs"), "utf8");
        const required: string[] = [];
        const exposed: Record<string, unknown> = {};
        const invoked: unknown[][] = [];
        const listeners = new Map<string, (event: unknown) => void>();
        const electron = {
            contextBridge: { exposeInMainWorld: (key: string, value: unknown) => void (exposed[key] = value) },
            ipcRenderer: { invoke: async (...args: unknown[]) => (invoked.push(args), { ok: true, value: null }), on: () => undefined, removeListener: () => undefined },
            webUtils: { getPathForFile: (file: { fake: string }) => file.fake }
        };
        const window = { addEventListener: (type: string, listener: (event: unknown) => void) => void listeners.set(type, listener) };
        const module = { exports: {} };
        new Function("require", "module", "exports", "window", code)((name: string) => {
            required.push(name);
            if (name !== "electron") throw new Error(`a sandboxed preload cannot require ${name}`);
            return electron;
        }, module, module.exports, window);
        expect(required).toEqual(["electron"]);
        expect(Object.keys(exposed)).toEqual(["presage"]);
        const bridge = exposed.presage as Record<string, unknown>;
        expect(Object.keys(bridge).filter((k) => k !== "onAppEvent" && k !== "onShellCommand").sort()).toEqual(Object.keys(invokeChannels).sort());

        let prevented = 0;
        const drop = (types: string[], files: { fake: string }[]) => ({ dataTransfer: { types, files }, preventDefault: () => prevented++ });
        listeners.get("drop")!(drop(["text/plain"], []));
        expect(prevented).toBe(0);
        listeners.get("drop")!(drop(["Files"], [{ fake: "/home/u/model.gguf" }, { fake: "/home/u/notes" }]));
        expect(prevented).toBe(1);
        expect(invoked).toEqual([[preloadChannels.dropPaths, ["/home/u/model.gguf", "/home/u/notes"]]]);
    });
});
