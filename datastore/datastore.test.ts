import BetterSqlite3 from "better-sqlite3";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Datastore } from "./datastore.ts";
import { DatastoreError } from "./datastore-error.ts";
import { buildSuffixArray } from "./index/suffix-array.ts";
import { Migrations, presageApplicationId } from "./migrations.ts";

let dir: string;
beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "presage-ds-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const sha = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

function expectDatastoreError(path: string, reason: DatastoreError["reason"], text: RegExp) {
    let caught: unknown;
    try {
        Datastore.open(path).close();
    } catch (err) {
        caught = err;
    }
    expect(caught).toBeInstanceOf(DatastoreError);
    expect((caught as DatastoreError).reason).toBe(reason);
    expect((caught as Error).message).toMatch(text);
}

describe("Datastore.open", () => {
    it("creates a WAL database with foreign keys and the current schema", () => {
        const path = join(dir, "sub", "store.db");
        const ds = Datastore.open(path);
        expect(ds.db.pragma("journal_mode", { simple: true })).toBe("wal");
        expect(ds.db.pragma("foreign_keys", { simple: true })).toBe(1);
        expect(ds.db.pragma("user_version", { simple: true })).toBe(new Migrations().latest);
        expect(ds.db.pragma("application_id", { simple: true })).toBe(presageApplicationId);
        ds.close();
        const again = Datastore.open(path);
        expect(again.integrityCheck()).toBe("ok");
        again.close();
    });

    it("refuses a database written by a newer version and leaves it untouched", () => {
        const path = join(dir, "newer.db");
        Datastore.open(path).close();
        const raw = new BetterSqlite3(path);
        raw.pragma("user_version = 99");
        raw.close();
        const before = sha(path);
        expectDatastoreError(path, "newer-version", /was written by a newer Presage/);
        expect(sha(path)).toBe(before);
    });

    it("refuses a file that is not SQLite and leaves it untouched", () => {
        const path = join(dir, "garbage.db");
        writeFileSync(path, randomBytes(8192));
        const before = sha(path);
        expectDatastoreError(path, "corrupt", /is not a Presage database or is corrupt/);
        expect(sha(path)).toBe(before);
    });

    it("refuses a SQLite file whose pages are damaged", () => {
        const path = join(dir, "damaged.db");
        Datastore.open(path).close();
        const bytes = readFileSync(path);
        // Keep the 100-byte header, trash the schema table on page 1.
        randomBytes(bytes.length - 100).copy(bytes, 100);
        writeFileSync(path, bytes);
        const before = sha(path);
        expectDatastoreError(path, "corrupt", /is not a Presage database or is corrupt/);
        expect(sha(path)).toBe(before);
    });

    it("refuses a database with a damaged page deep inside at open, not mid-request", () => {
        const path = join(dir, "deep.db");
        const ds = Datastore.open(path);
        const conversation = ds.conversations.create({ title: "long" });
        for (let i = 0; i < 400; i++) ds.conversations.addMessage(conversation.id, { role: "user", content: `message ${i} `.repeat(40) });
        ds.close();
        const raw = new BetterSqlite3(path, { readonly: true });
        const root = (raw.prepare("SELECT rootpage FROM sqlite_master WHERE name = 'messages'").get() as { rootpage: number }).rootpage;
        const pageSize = raw.pragma("page_size", { simple: true }) as number;
        raw.close();
        // The messages table spans many pages, so its root is an interior page: garble its cell pointers.
        const bytes = readFileSync(path);
        bytes.fill(0xee, (root - 1) * pageSize + 12, (root - 1) * pageSize + 200);
        writeFileSync(path, bytes);
        const before = sha(path);
        expectDatastoreError(path, "corrupt", /is not a Presage database or is corrupt \(.*\)/);
        expect(sha(path)).toBe(before);
    });

    it("refuses another application's SQLite database", () => {
        const path = join(dir, "other.db");
        const raw = new BetterSqlite3(path);
        raw.exec("CREATE TABLE t (x)");
        raw.close();
        expectDatastoreError(path, "not-presage", /is not a Presage database/);
    });

    it("refuses a directory", () => {
        mkdirSync(join(dir, "folder.db"));
        expectDatastoreError(join(dir, "folder.db"), "unusable", /is not a file/);
    });

    it("turns an empty file into a datastore", () => {
        const path = join(dir, "empty.db");
        writeFileSync(path, "");
        const ds = Datastore.open(path);
        expect(ds.db.pragma("user_version", { simple: true })).toBe(new Migrations().latest);
        ds.close();
    });
});

describe("Datastore stores", () => {
    let ds: Datastore;
    beforeEach(() => {
        ds = Datastore.open(join(dir, "store.db"));
    });
    afterEach(() => ds.close());

    it("keeps typed settings with defaults and arbitrary JSON keys", () => {
        expect(ds.settings.get("history.enabled")).toBe(true);
        expect(ds.settings.get("ingest.maxFileBytes")).toBe(20 * 1024 * 1024);
        ds.settings.set("history.enabled", false);
        ds.settings.setJson("ui.theme", { dark: true });
        expect(ds.settings.get("history.enabled")).toBe(false);
        expect(ds.settings.getJson("ui.theme")).toEqual({ dark: true });
        ds.settings.delete("history.enabled");
        expect(ds.settings.get("history.enabled")).toBe(true);
    });

    it("removing a source removes its documents, text, token streams and the shards built on them", () => {
        const tok = ds.tokenizers.ensure({ id: "t1", vocabSize: 100 });
        const a = ds.sources.add("/a", "folder");
        const b = ds.sources.add("/b", "folder");
        const docA = ds.documents.saveReady(
            { sourceId: a.id, path: "/a/x.txt", size: 3, mtimeMs: 1, contentHash: "h", text: "abc" },
            { tokenizerId: tok.id, tokens: Uint16Array.of(1, 2, 3) }
        );
        const docB = ds.documents.saveReady(
            { sourceId: b.id, path: "/b/y.txt", size: 3, mtimeMs: 1, contentHash: "h", text: "abd" },
            { tokenizerId: tok.id, tokens: Uint16Array.of(1, 2, 4) }
        );
        const refs = ds.shards.unsharded(tok.id);
        expect(refs.map((r) => r.documentId)).toEqual([docA, docB]);
        const stream = ds.shards.assembleStream(tok.id, refs, 2)!;
        const shardId = ds.shards.save(tok.id, refs, buildSuffixArray(stream), 32)!;
        expect(ds.shards.list(tok.id).map((s) => s.id)).toEqual([shardId]);
        expect(ds.shards.unsharded(tok.id)).toEqual([]);

        expect(ds.sources.remove(a.id)).toBe(true);
        expect(ds.documents.get(docA)).toBeUndefined();
        expect(ds.documents.text(docA)).toBeUndefined();
        expect(ds.documents.tokens(docA, tok.id, 2)).toBeUndefined();
        // The shard held docA, so it went; docB is waiting for the next build.
        expect(ds.shards.list(tok.id)).toEqual([]);
        expect(ds.shards.unsharded(tok.id).map((r) => r.documentId)).toEqual([docB]);
        expect((ds.db.prepare("SELECT count(*) AS n FROM shard_chunks").get() as { n: number }).n).toBe(0);
    });

    it("refuses to save a shard whose streams changed while it was being built", () => {
        const tok = ds.tokenizers.ensure({ id: "t1", vocabSize: 100 });
        const s = ds.sources.add("/a", "folder");
        const doc = ds.documents.saveReady(
            { sourceId: s.id, path: "/a/x.txt", size: 3, mtimeMs: 1, contentHash: "h", text: "abc" },
            { tokenizerId: tok.id, tokens: Uint16Array.of(1, 2, 3) }
        );
        const refs = ds.shards.unsharded(tok.id);
        const sa = buildSuffixArray(ds.shards.assembleStream(tok.id, refs, 2)!);
        ds.documents.saveTokens(doc, { tokenizerId: tok.id, tokens: Uint16Array.of(5, 6) });
        expect(ds.shards.save(tok.id, refs, sa, 32)).toBeUndefined();
    });

    it("stores conversations and messages and announces them", () => {
        const added: string[] = [];
        let removed = 0;
        ds.events.on("message-added", (m) => added.push(`${m.role}:${m.content}`));
        ds.events.on("messages-removed", () => removed++);
        const c = ds.conversations.create({ title: "First" });
        ds.conversations.addMessage(c.id, { role: "user", content: "hi" });
        const answer = ds.conversations.addMessage(c.id, { role: "assistant", content: "hello there", stats: { tokensPerSecond: 12.5 } });
        expect(answer.stats).toEqual({ tokensPerSecond: 12.5 });
        expect(ds.conversations.messages(c.id).map((m) => [m.role, m.content, m.stats])).toEqual([
            ["user", "hi", null],
            ["assistant", "hello there", { tokensPerSecond: 12.5 }]
        ]);
        expect(ds.conversations.list()).toMatchObject([{ id: c.id, title: "First", messageCount: 2 }]);
        expect(ds.conversations.assistantMessages().map((m) => m.content)).toEqual(["hello there"]);
        expect(added).toEqual(["user:hi", "assistant:hello there"]);
        expect(() => ds.conversations.addMessage(999, { role: "user", content: "x" })).toThrow(/does not exist/);
        ds.conversations.update(c.id, { title: "Renamed" });
        expect(ds.conversations.get(c.id)?.title).toBe("Renamed");
        expect(ds.conversations.clearHistory()).toBe(1);
        // Clearing history stops answers feeding the history drafter; the conversations stay.
        expect(ds.conversations.assistantMessages()).toEqual([]);
        expect(ds.conversations.list()).toHaveLength(1);
        expect(removed).toBe(1);
        ds.conversations.addMessage(c.id, { role: "assistant", content: "later answer" });
        expect(ds.conversations.assistantMessages().map((m) => m.content)).toEqual(["later answer"]);
    });
});
