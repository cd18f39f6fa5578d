import { spawn, spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, expect, it } from "vitest";
import { packageRoot } from "../native-models/models-dir.ts";
import { describeWithStories } from "../native-models/testing/stories.ts";
import { startBlackHole } from "../core/testing/model-host.ts";
import { engineProcessesUnder } from "../core/testing/engine-processes.ts";
import { readSseEvents, type SseEvent } from "../server/testing/sse-client.ts";

const dir = mkdtempSync(join(tmpdir(), "presage-serve-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function presage(args: string[], options: { uid?: number } = {}) {
    return spawn(process.execPath, [join(packageRoot, "bin", "presage.js"), ...args], { cwd: dir, env: { ...process.env, PRESAGE_DATA_DIR: dir }, stdio: ["ignore", "pipe", "pipe"], ...options });
}

/** Runs `presage serve` with `args` expecting it to refuse at start: its exit code and stderr (killed after 60 s). */
async function refused(args: string[], options: { uid?: number } = {}): Promise<{ code: number | null; err: string }> {
    const child = presage(["serve", "--port", "0", "--no-build", ...args], options);
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    clearTimeout(timer);
    return { code, err };
}

describeWithStories("presage serve", (storiesPath) => {
    it("prints the address, serves the OpenAI API on it, and stops cleanly on SIGTERM", async () => {
        const child = presage(["serve", "--port", "0", "--db", join(dir, "p.db"), "--model", storiesPath, "--threads", "1", "--no-build"]);
        let out = "";
        let err = "";
        child.stderr.on("data", (d) => (err += d));
        const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
        const appUrl = await new Promise<string>((resolve, reject) => {
            child.stdout.on("data", (d) => {
                out += d;
                const m = /chat window: (http:\/\/127\.0\.0\.1:\d+\/#token=[\w-]+)/.exec(out);
                if (m) resolve(m[1]!);
            });
            void exited.then((code) => reject(new Error(`serve exited with ${code}: ${err}`)));
        });
        const base = new URL(appUrl).origin;
        const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: "none", maxRetries: 0 });
        expect((await client.models.list()).data[0]!.id).toBe("stories260K");
        const answer = await client.chat.completions.create({ model: "stories260K", messages: [{ role: "user", content: "Hello" }], max_tokens: 8 });
        expect(answer.usage!.completion_tokens).toBeGreaterThan(0);
        const token = new URL(appUrl).hash.replace("#token=", "");
        expect((await fetch(`${base}/api/state`, { headers: { "x-presage-token": token } })).status).toBe(200);
        child.kill("SIGTERM");
        expect(await exited).toBe(0);
    });

    it("keeps serving when its engine process is killed in the middle of a streamed answer: one error event, then the next answer", async () => {
        const child = presage(["serve", "--port", "0", "--db", join(dir, "crash.db"), "--model", storiesPath, "--threads", "1", "--no-build"]);
        let out = "";
        let err = "";
        child.stderr.on("data", (d) => (err += d));
        const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
        const base = await new Promise<string>((resolve, reject) => {
            child.stdout.on("data", (d) => {
                out += d;
                const m = /serving on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
                if (m) resolve(m[1]!);
            });
            void exited.then((code) => reject(new Error(`serve exited with ${code}: ${err}`)));
        });
        // The engine runs in a process of its own below the server, titled presage-engine.
        const [engine] = engineProcessesUnder(child.pid!);
        expect(engine).toBeDefined();
        const server = engine!.ppid;
        const stream = await fetch(`${base}/v1/chat/completions`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ model: "stories260K", stream: true, max_tokens: 400, messages: [{ role: "user", content: "Once upon a time" }] })
        });
        expect(stream.status).toBe(200);
        let killedAt = 0;
        const events: SseEvent[] = await readSseEvents(stream.body!, () => {
            if (killedAt === 0) {
                killedAt = performance.now();
                process.kill(engine!.pid, "SIGKILL");
            }
        });
        expect(performance.now() - killedAt).toBeLessThan(5000);
        expect(JSON.parse(events.find((e) => e.event === "error")!.data).error.message).toBe("The model stopped unexpectedly; reloading.");
        expect(events.at(-1)!.data).toBe("[DONE]");
        // The same server answers the next request, from a new engine process.
        const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: "none", maxRetries: 0 });
        const answer = await client.chat.completions.create({ model: "stories260K", messages: [{ role: "user", content: "Hello" }], max_tokens: 8 });
        expect(answer.usage!.completion_tokens).toBeGreaterThan(0);
        const now = engineProcessesUnder(child.pid!);
        expect(now).toHaveLength(1);
        expect(now[0]!.pid).not.toBe(engine!.pid);
        expect(now[0]!.ppid).toBe(server);
        expect(child.exitCode).toBeNull();
        expect(err).toMatch(/the engine process \d+ ended \(SIGKILL\)/);
        child.kill("SIGTERM");
        expect(await exited).toBe(0);
        // Stopping the server ends its engine process too (gone, or a zombie with no command line).
        const running = (pid: number) => existsSync(`/proc/${pid}/cmdline`) && readFileSync(`/proc/${pid}/cmdline`, "utf8") !== "";
        await expect.poll(() => running(now[0]!.pid), { timeout: 10_000 }).toBe(false);
    });
});

it("refuses to bind off loopback without --api-key, in one line", async () => {
    const child = presage(["serve", "--host", "0.0.0.0", "--port", "0", "--db", join(dir, "q.db"), "--no-build"]);
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
    expect(code).toBe(1);
    expect(err.trim().split("\n")).toHaveLength(1);
    expect(err).toMatch(/--api-key/);
});

it("refuses an empty --api-key in one line", async () => {
    const { code, err } = await refused(["--api-key", "", "--db", join(dir, "k.db")]);
    expect(code).toBe(2);
    expect(err.trim().split("\n")).toHaveLength(1);
    expect(err).toMatch(/--api-key is empty/);
});

it("refuses a --db whose folder cannot be made, in one line and at once", async () => {
    const started = Date.now();
    const { code, err } = await refused(["--db", "/proc/nope/x.db"]);
    expect(code).toBe(1);
    expect(err.trim().split("\n")).toHaveLength(1);
    expect(err).toMatch(/Cannot create the folder \/proc\/nope/);
    expect(Date.now() - started).toBeLessThan(30_000);
});

// File modes do not bind root: there the server runs as nobody, which needs to read the package (a clone
// inside a private folder, such as `mktemp -d`'s, is out of its reach).
const asRoot = process.getuid?.() === 0;
const nobodyReadsPackage = !asRoot || spawnSync(process.execPath, ["-e", "require('fs').accessSync(process.argv[1])", join(packageRoot, "bin", "presage.js")], { uid: 65534 }).status === 0;
if (!nobodyReadsPackage) console.warn(`skipped: the read-only database test runs as nobody when root, and nobody cannot read ${packageRoot}`);

it.skipIf(!nobodyReadsPackage)("says a sound database it may not write is read-only, not damaged", async () => {
    const folder = join(dir, "readonly");
    mkdirSync(folder);
    const db = join(folder, "sound.db");
    const { Datastore } = await import("../datastore/datastore.ts");
    const ds = Datastore.open(db);
    ds.conversations.create({ title: "keep me" });
    ds.close();
    chmodSync(db, 0o444);
    chmodSync(folder, 0o555);
    chmodSync(dir, 0o755);
    try {
        const { code, err } = await refused(["--db", db], asRoot ? { uid: 65534 } : {});
        expect(code).toBe(1);
        expect(err.trim().split("\n")).toHaveLength(1);
        expect(err).toMatch(/sound\.db is read-only/);
        expect(err).not.toMatch(/corrupt|backup/);
    } finally {
        chmodSync(folder, 0o755);
        chmodSync(db, 0o644);
    }
    const again = Datastore.open(db);
    expect(again.conversations.list().map((c) => c.title)).toEqual(["keep me"]);
    again.close();
});

/** `npx presage serve` as on a fresh clone: no PRESAGE_* or HF_* variables, a home folder of its own. */
function freshServe(home: string, args: string[] = []) {
    const env: NodeJS.ProcessEnv = {};
    for (const [key, value] of Object.entries(process.env))
        if (!/^(PRESAGE_|HF_|XDG_)/.test(key) && key !== "HOME" && key !== "UV_THREADPOOL_SIZE") env[key] = value;
    env.HOME = home;
    // detached: its own process group, so a Ctrl+C can be sent the way a terminal sends it.
    const child = spawn(process.execPath, [join(packageRoot, "bin", "presage.js"), "serve", "--port", "0", "--no-build", ...args], { cwd: home, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let out = "";
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const appUrl = new Promise<string>((resolve, reject) => {
        child.stdout.on("data", (d) => {
            out += d;
            const m = /chat window: (http:\/\/127\.0\.0\.1:\d+\/#token=[\w-]+)/.exec(out);
            if (m) resolve(m[1]!);
        });
        void exited.then((code) => reject(new Error(`serve exited with ${code}: ${err}`)));
    });
    return { child, exited, appUrl, output: () => out, errors: () => err, ctrlC: () => process.kill(-child.pid!, "SIGINT") };
}

it("serves the built-in model from a fresh clone with no settings and no network, and Ctrl+C stops it whatever is in flight", async () => {
    const home = mkdtempSync(join(tmpdir(), "presage-fresh-home-"));
    const serve = freshServe(home);
    try {
        const base = new URL(await serve.appUrl).origin;
        const token = new URL(await serve.appUrl).hash.replace("#token=", "");
        expect(serve.output()).toMatch(/model: +stories260K\.gguf \(the built-in demo model\)/);
        // The models folder is made in the app's data folder, not beside the package.
        const dataDir = join(home, ".config", "Presage");
        expect(serve.output()).toContain(`models:      ${join(dataDir, "models")}`);
        const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: "none", maxRetries: 0 });
        expect((await client.models.list()).data.map((m) => m.id)).toEqual(["stories260K"]);
        const answer = await client.chat.completions.create({ model: "stories260K", messages: [{ role: "user", content: "Once upon a time" }], max_tokens: 8 });
        expect(answer.choices[0]!.message.content!.length).toBeGreaterThan(0);
        const plain = await client.completions.create({ model: "", prompt: "Once upon a time", max_tokens: 4 } as never);
        expect(plain.model).toBe("stories260K");
        expect(existsSync(join(dataDir, "models"))).toBe(true);
        expect(existsSync(join(dataDir, "presage.db"))).toBe(true);

        // In flight at once: a download from a host that never answers, and a long streamed answer.
        const hole = await startBlackHole();
        try {
            const started = await fetch(`${base}/api/models/download`, { method: "POST", headers: { "x-presage-token": token, "content-type": "application/json" }, body: JSON.stringify({ uri: `${hole.url}/big.gguf` }) });
            expect(started.status).toBe(202);
            const stream = await client.chat.completions.create({ model: "stories260K", messages: [{ role: "user", content: "Tell a long story" }], max_tokens: 100_000, stream: true });
            const reading = (async () => {
                try {
                    for await (const _ of stream) { /* until the server goes */ }
                } catch { /* the server went away */ }
            })();
            await new Promise((r) => setTimeout(r, 500));
            const t0 = performance.now();
            serve.ctrlC();
            expect(await serve.exited).toBe(0);
            expect(performance.now() - t0).toBeLessThan(5000);
            await reading;
        } finally {
            await hole.close();
        }
    } finally {
        if (serve.child.exitCode == null) process.kill(-serve.child.pid!, "SIGKILL");
        rmSync(home, { recursive: true, force: true });
    }
});
