import BetterSqlite3 from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { titleFrom } from "./conversations.ts";
import { Datastore } from "./datastore.ts";
import { Migrations, migrations } from "./migrations.ts";

let dir: string;
let ds: Datastore;
beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "presage-conv-"));
    ds = Datastore.open(join(dir, "store.db"));
});
afterEach(() => {
    ds.close();
    rmSync(dir, { recursive: true, force: true });
});

describe("conversation titles", () => {
    it("come from the first line of the first user message, cut at a word", () => {
        expect(titleFrom("  Once upon a time\nthere was")).toBe("Once upon a time");
        const long = "Tell me a story about a little girl who found a red ball in the garden and kept it";
        const title = titleFrom(long);
        expect(title.length).toBeLessThanOrEqual(60);
        expect(title.endsWith("…")).toBe(true);
        expect(long.startsWith(title.slice(0, -1))).toBe(true);
        expect(long[title.length - 1]).toBe(" ");
    });

    it("are given to an untitled conversation by its first user message, even after a system prompt", () => {
        const c = ds.conversations.create();
        ds.conversations.addMessage(c.id, { role: "system", content: "You are terse." });
        ds.conversations.addMessage(c.id, { role: "user", content: "Once upon a time" });
        ds.conversations.addMessage(c.id, { role: "user", content: "Another question" });
        expect(ds.conversations.get(c.id)?.title).toBe("Once upon a time");
        const named = ds.conversations.create({ title: "Mine" });
        ds.conversations.addMessage(named.id, { role: "user", content: "hello" });
        expect(ds.conversations.get(named.id)?.title).toBe("Mine");
    });
});

describe("answer versions", () => {
    it("keep every answer to a question, show the newest, and switch on request", () => {
        const c = ds.conversations.create();
        ds.conversations.addMessage(c.id, { role: "user", content: "q1" });
        const a1 = ds.conversations.addMessage(c.id, { role: "assistant", content: "first" });
        const a2 = ds.conversations.addMessage(c.id, { role: "assistant", content: "second" });
        expect(a2.hidden).toBe(false);
        const shown = () => ds.conversations.messages(c.id).filter((m) => !m.hidden).map((m) => m.content);
        expect(shown()).toEqual(["q1", "second"]);
        expect(ds.conversations.showVersion(c.id, a1.id)).toBe(true);
        expect(shown()).toEqual(["q1", "first"]);
        // A later question's answers are versions of their own: the first answer's choice stays.
        ds.conversations.addMessage(c.id, { role: "user", content: "q2" });
        const b1 = ds.conversations.addMessage(c.id, { role: "assistant", content: "b1" });
        ds.conversations.addMessage(c.id, { role: "assistant", content: "b2" });
        expect(shown()).toEqual(["q1", "first", "q2", "b2"]);
        expect(ds.conversations.showVersion(c.id, b1.id)).toBe(true);
        expect(shown()).toEqual(["q1", "first", "q2", "b1"]);
        // Not an answer of this conversation: nothing changes.
        expect(ds.conversations.showVersion(c.id, 9999)).toBe(false);
        expect(ds.conversations.showVersion(c.id, ds.conversations.messages(c.id)[0]!.id)).toBe(false);
        expect(shown()).toEqual(["q1", "first", "q2", "b1"]);
        // Every version is an answer the history drafter may learn from.
        expect(ds.conversations.historyAnswerCount()).toBe(4);
    });

    it("go with the question when an edit removes it", () => {
        const c = ds.conversations.create();
        const q = ds.conversations.addMessage(c.id, { role: "user", content: "q" });
        ds.conversations.addMessage(c.id, { role: "assistant", content: "a" });
        ds.conversations.addMessage(c.id, { role: "assistant", content: "b" });
        let removed = 0;
        ds.events.on("messages-removed", () => removed++);
        expect(ds.conversations.removeFrom(c.id, q.id)).toBe(3);
        expect(ds.conversations.messages(c.id)).toEqual([]);
        expect(removed).toBe(1);
    });
});

describe("migration 2", () => {
    it("adds answer versions to a version-1 database and titles its \"New chat\" conversations", () => {
        const path = join(dir, "v1.db");
        const raw = new BetterSqlite3(path);
        new Migrations(migrations.filter((m) => m.version === 1)).apply(raw);
        raw.prepare("INSERT INTO conversations (id, title, created_at, updated_at) VALUES (1, 'New chat', 1, 1), (2, 'Kept', 1, 1), (3, 'New chat', 1, 1)").run();
        raw.prepare("INSERT INTO messages (conversation_id, role, content, created_at) VALUES (1, 'user', 'Once upon a time\nmore', 2), (1, 'assistant', 'there was', 3), (2, 'user', 'x', 2)").run();
        raw.close();
        const upgraded = Datastore.open(path);
        try {
            expect(upgraded.conversations.list().map((c) => [c.id, c.title])).toEqual([[3, ""], [2, "Kept"], [1, "Once upon a time"]]);
            expect(upgraded.conversations.messages(1).map((m) => m.hidden)).toEqual([false, false]);
            upgraded.conversations.addMessage(1, { role: "assistant", content: "again" });
            expect(upgraded.conversations.messages(1).map((m) => [m.content, m.hidden])).toEqual([["Once upon a time\nmore", false], ["there was", true], ["again", false]]);
        } finally {
            upgraded.close();
        }
    });
});

describe("system prompt and sampling", () => {
    it("are kept in the conversation's row, as given, and changed field by field", async () => {
        const c = ds.conversations.create({ title: "Poems", systemPrompt: "Answer in verse.", sampling: { temperature: 0.3, seed: null } });
        expect(ds.conversations.get(c.id)).toMatchObject({ title: "Poems", systemPrompt: "Answer in verse.", sampling: { temperature: 0.3, seed: null } });
        expect(ds.conversations.create()).toMatchObject({ title: "", systemPrompt: "", sampling: {} });
        await new Promise((r) => setTimeout(r, 5));
        const changed = ds.conversations.update(c.id, { sampling: { topK: 5 } });
        expect(changed).toMatchObject({ title: "Poems", systemPrompt: "Answer in verse.", sampling: { topK: 5 } });
        expect(changed!.updatedAt).toBeGreaterThan(c.updatedAt);
        expect(ds.conversations.update(c.id, { systemPrompt: "" })).toMatchObject({ title: "Poems", systemPrompt: "", sampling: { topK: 5 } });
        expect(ds.conversations.update(12345, { title: "x" })).toBeUndefined();
        expect(ds.settings.getJson(`conversation.${c.id}`)).toBeUndefined();
    });
});

describe("migration 3", () => {
    it("moves each conversation's `conversation.N` settings entry into its columns, losing nothing", () => {
        const path = join(dir, "v2.db");
        const raw = new BetterSqlite3(path);
        new Migrations(migrations.filter((m) => m.version <= 2)).apply(raw);
        expect(Migrations.versionOf(raw)).toBe(2);
        raw.prepare("INSERT INTO conversations (id, title, created_at, updated_at) VALUES (1, 'Verse', 1, 7), (2, 'Plain', 1, 8), (3, 'Odd', 1, 9), (4, 'Broken', 1, 10)").run();
        const put = raw.prepare("INSERT INTO settings (key, value) VALUES (?, ?)");
        put.run("conversation.1", JSON.stringify({ systemPrompt: "Answer in verse.", sampling: { temperature: 0.25, topK: 7, seed: null } }));
        // Written by the old build for a conversation created without either.
        put.run("conversation.2", JSON.stringify({ systemPrompt: "", sampling: {} }));
        // Wrong types read as unset, as the old build read them.
        put.run("conversation.3", JSON.stringify({ systemPrompt: 42, sampling: [1, 2] }));
        put.run("conversation.4", "{not json");
        // Its conversation is gone: left alone.
        put.run("conversation.99", JSON.stringify({ systemPrompt: "orphan", sampling: {} }));
        put.run("history.enabled", "false");
        put.run("conversation.draft", JSON.stringify("not a conversation"));
        raw.close();

        const upgraded = Datastore.open(path);
        try {
            const byId = new Map(upgraded.conversations.list().map((c) => [c.id, c]));
            expect(byId.get(1)).toMatchObject({ title: "Verse", systemPrompt: "Answer in verse.", sampling: { temperature: 0.25, topK: 7, seed: null }, updatedAt: 7 });
            expect(byId.get(2)).toMatchObject({ systemPrompt: "", sampling: {}, updatedAt: 8 });
            expect(byId.get(3)).toMatchObject({ systemPrompt: "", sampling: {} });
            expect(byId.get(4)).toMatchObject({ systemPrompt: "", sampling: {} });
            for (const id of [1, 2, 3, 4]) expect(upgraded.settings.getJson(`conversation.${id}`)).toBeUndefined();
            expect(upgraded.settings.getJson("conversation.99")).toEqual({ systemPrompt: "orphan", sampling: {} });
            expect(upgraded.settings.getJson("conversation.draft")).toBe("not a conversation");
            expect(upgraded.settings.get("history.enabled")).toBe(false);
        } finally {
            upgraded.close();
        }
    });
});
