import BetterSqlite3 from "better-sqlite3";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Datastore } from "../datastore/datastore.ts";
import { RetrievalIndex } from "../datastore/index/retrieval-index.ts";
import { packageRoot } from "../native-models/models-dir.ts";
import { describeWithStories } from "../native-models/testing/stories.ts";

const bin = join(packageRoot, "bin", "presage.js");
const presage = (args: string[]) => spawnSync(process.execPath, [bin, "index", ...args], { encoding: "utf8", timeout: 120_000 });

let dir: string;
beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "presage-cli-index-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("presage index arguments", () => {
    it("prints help", () => {
        const r = presage(["--help"]);
        expect(r.status).toBe(0);
        expect(r.stdout).toMatch(/^presage index/);
        expect(r.stdout).toContain("--json");
    });

    it("exits 2 on bad arguments", () => {
        expect(presage(["--model", "m.gguf", "x"]).status).toBe(2);
        expect(presage(["--db", "x.db", "x"]).stderr).toMatch(/--model is required/);
        const noPaths = presage(["--db", "x.db", "--model", "m.gguf"]);
        expect(noPaths.status).toBe(2);
        expect(noPaths.stderr).toMatch(/at least one file or folder/);
        expect(presage(["--db", "x.db", "--model", "m.gguf", "--workers", "0", "x"]).status).toBe(2);
        expect(presage(["--db", "x.db", "--bogus"]).status).toBe(2);
    });
});

describeWithStories("presage index", (modelPath) => {
    it("exits 1 with one line on a corrupt database or model", () => {
        writeFileSync(join(dir, "doc.txt"), "Once upon a time there was a cat.\n");
        writeFileSync(join(dir, "corrupt.db"), "this is not a database at all, just some words\n".repeat(100));
        const badDb = presage(["--db", join(dir, "corrupt.db"), "--model", modelPath, join(dir, "doc.txt")]);
        expect(badDb.status).toBe(1);
        expect(badDb.stderr.trim().split("\n")).toHaveLength(1);
        expect(badDb.stderr).toMatch(/is not a Presage database or is corrupt/);

        // Sound header and schema, one damaged page deep in the messages table: refused at open too.
        const deep = join(dir, "deep.db");
        const ds = Datastore.open(deep);
        const conversation = ds.conversations.create({ title: "long" });
        for (let i = 0; i < 400; i++) ds.conversations.addMessage(conversation.id, { role: "user", content: `message ${i} `.repeat(40) });
        ds.close();
        const raw = new BetterSqlite3(deep, { readonly: true });
        const root = (raw.prepare("SELECT rootpage FROM sqlite_master WHERE name = 'messages'").get() as { rootpage: number }).rootpage;
        const pageSize = raw.pragma("page_size", { simple: true }) as number;
        raw.close();
        const bytes = readFileSync(deep);
        bytes.fill(0xee, (root - 1) * pageSize + 12, (root - 1) * pageSize + 200);
        writeFileSync(deep, bytes);
        const damaged = presage(["--db", deep, "--model", modelPath, join(dir, "doc.txt")]);
        expect(damaged.status).toBe(1);
        expect(damaged.stderr.trim().split("\n")).toHaveLength(1);
        expect(damaged.stderr).toMatch(/deep\.db is not a Presage database or is corrupt/);
        expect(readFileSync(deep).equals(bytes)).toBe(true);

        writeFileSync(join(dir, "bad.gguf"), "junk");
        const badModel = presage(["--db", join(dir, "m.db"), "--model", join(dir, "bad.gguf"), join(dir, "doc.txt")]);
        expect(badModel.status).toBe(1);
        expect(badModel.stderr.trim().split("\n")).toHaveLength(1);
        expect(badModel.stderr).toMatch(/bad\.gguf/);

        const missing = presage(["--db", join(dir, "m.db"), "--model", modelPath, join(dir, "nope")]);
        expect(missing.status).toBe(1);
        expect(missing.stderr).toMatch(/does not exist/);
    });

    it("prints a JSON summary with the skipped files", () => {
        const folder = join(dir, "json");
        mkdirSync(folder);
        writeFileSync(join(folder, "a.md"), "The little dog ran to the park.\n");
        writeFileSync(join(folder, "empty.txt"), "");
        const r = presage(["--db", join(dir, "json.db"), "--model", modelPath, folder, "--json"]);
        expect(r.status).toBe(0);
        const summary = JSON.parse(r.stdout);
        expect(summary).toMatchObject({ files: 2, indexed: 1, skipped: [{ path: join(folder, "empty.txt"), reason: "empty file" }] });
        expect(summary.tokens).toBeGreaterThan(5);
        expect(typeof summary.seconds).toBe("number");
    });

    it("refuses /proc with one line, and stops a folder at the files limit with the reason", () => {
        const proc = presage(["--db", join(dir, "proc.db"), "--model", modelPath, "/proc"]);
        expect(proc.status).toBe(1);
        expect(proc.stderr.trim().split("\n")).toHaveLength(1);
        expect(proc.stderr).toMatch(/\/proc is in \/proc, a system filesystem that is not documents: add a folder of your own files instead\./);
        const folder = join(dir, "limited");
        mkdirSync(folder);
        for (let i = 0; i < 30; i++) writeFileSync(join(folder, `n${String(i).padStart(2, "0")}.md`), `Note ${i}: the little dog ran.\n`);
        const db = join(dir, "limited.db");
        const store = Datastore.open(db);
        store.settings.set("ingest.maxSourceFiles", 10);
        store.close();
        const r = presage(["--db", db, "--model", modelPath, folder, "--json"]);
        expect(r.status).toBe(0);
        const summary = JSON.parse(r.stdout);
        expect(summary.files).toBe(10);
        expect(summary.indexed).toBe(10);
        expect(summary.stopped).toEqual([{ sourceId: 1, reason: "Stopped at 10 files, the limit for one source: add a smaller folder, or raise the limit in Settings." }]);
    });

    it("survives SIGKILL mid-indexing: the database stays sound, keeps its work and the next run resumes", async () => {
        const folder = join(dir, "crash");
        mkdirSync(folder);
        const files = 300;
        for (let i = 0; i < files; i++) {
            const lines = [];
            for (let j = 0; j < 250; j++) lines.push(`Story ${i} line ${j}: the little fox number ${(i * 7 + j * 13) % 97} found a shiny stone by the river.`);
            writeFileSync(join(folder, `story-${String(i).padStart(3, "0")}.txt`), lines.join("\n") + "\n");
        }
        const db = join(dir, "crash.db");
        const child = spawn(process.execPath, [bin, "index", "--db", db, "--model", modelPath, folder, "--workers", "1"], { stdio: "ignore" });
        const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)));
        // Wait until some, but not all, documents are committed, then kill without warning.
        const readyCount = () => {
            try {
                const probe = new BetterSqlite3(db, { readonly: true, fileMustExist: true });
                try {
                    return (probe.prepare("SELECT count(*) AS n FROM documents WHERE status = 'ready'").get() as { n: number }).n;
                } finally {
                    probe.close();
                }
            } catch {
                return 0; // not created yet, or schema not there yet
            }
        };
        let before = 0;
        const deadline = Date.now() + 90_000;
        while (Date.now() < deadline) {
            before = readyCount();
            if (before >= 20) break;
            await new Promise((r) => setTimeout(r, 25));
        }
        child.kill("SIGKILL");
        expect(await exited).toBe("SIGKILL");
        expect(before).toBeGreaterThanOrEqual(20);

        const afterKill = Datastore.open(db);
        expect(afterKill.integrityCheck()).toBe("ok");
        const kept = afterKill.documents.counts().ready;
        expect(kept).toBeGreaterThanOrEqual(before);
        expect(kept).toBeLessThan(files);
        afterKill.close();

        const resumed = presage(["--db", db, "--model", modelPath, folder, "--json"]);
        expect(resumed.status).toBe(0);
        const summary = JSON.parse(resumed.stdout);
        expect(summary).toMatchObject({ files, indexed: files, skipped: [] });
        // Only what the killed run had not finished was read again.
        expect(summary.added).toBeLessThanOrEqual(files - kept);
        expect(summary.unchanged + summary.retokenized).toBeGreaterThanOrEqual(kept);

        const done = Datastore.open(db);
        expect(done.integrityCheck()).toBe("ok");
        const tokenizer = done.tokenizers.list()[0];
        const index = RetrievalIndex.open(done, tokenizer.id);
        expect(index.tokenCount).toBe(done.documents.tokenCount(tokenizer.id));
        expect(index.tokenCount).toBe(summary.tokens);
        index.close();
        done.close();
    });
});
