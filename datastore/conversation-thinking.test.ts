import BetterSqlite3 from "better-sqlite3";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Datastore } from "./datastore.ts";
import { Migrations, migrations } from "./migrations.ts";

let dir: string;
let ds: Datastore;
beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "presage-thinking-"));
    ds = Datastore.open(join(dir, "store.db"));
});
afterEach(() => {
    ds.close();
    rmSync(dir, { recursive: true, force: true });
});

describe("thinking per conversation", () => {
    it("is the template's default (null) unless set, and is kept, changed and reset", () => {
        const plain = ds.conversations.create({ title: "a" });
        expect(plain.thinking).toBeNull();
        const on = ds.conversations.create({ title: "b", thinking: true });
        expect(ds.conversations.get(on.id)!.thinking).toBe(true);
        expect(ds.conversations.update(on.id, { thinking: false })!.thinking).toBe(false);
        // A change of something else leaves it.
        expect(ds.conversations.update(on.id, { title: "renamed" })!.thinking).toBe(false);
        expect(ds.conversations.update(on.id, { thinking: null })!.thinking).toBeNull();
        expect(ds.conversations.list().map((c) => c.thinking)).toEqual([null, null]);
    });

    it("comes to a version-4 database as null for every conversation", () => {
        const path = join(dir, "v4.db");
        const raw = new BetterSqlite3(path);
        new Migrations(migrations.filter((m) => m.version <= 4)).apply(raw);
        raw.prepare("INSERT INTO conversations (id, title, created_at, updated_at) VALUES (1, 'Old', 1, 1)").run();
        raw.close();
        const upgraded = Datastore.open(path);
        try {
            expect(upgraded.conversations.get(1)).toMatchObject({ title: "Old", thinking: null });
            expect(upgraded.conversations.update(1, { thinking: true })!.thinking).toBe(true);
        } finally {
            upgraded.close();
        }
    });
});
