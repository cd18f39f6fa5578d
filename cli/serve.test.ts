import { spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, expect, it } from "vitest";
import { packageRoot } from "../native-models/models-dir.ts";
import { describeWithStories } from "../native-models/testing/stories.ts";

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

it("says a sound database it may not write is read-only, not damaged", async () => {
    // File modes do not bind root: run the server as nobody there.
    const asRoot = process.getuid?.() === 0;
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
