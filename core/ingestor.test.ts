import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LlamaModel, Token } from "node-llama-cpp";
import { afterAll, beforeAll, expect, it } from "vitest";
import { Datastore } from "../datastore/datastore.ts";
import { RetrievalIndex } from "../datastore/index/retrieval-index.ts";
import type { Ingestor, IngestProgress } from "../datastore/ingest/ingestor.ts";
import { SourceWatcher } from "../datastore/ingest/source-watcher.ts";
import { makeDocx, makePdf } from "../datastore/ingest/test-files.ts";
import { getRuntime } from "../native-models/runtime/llama-runtime.ts";
import { tokenizerIdentity } from "../native-models/runtime/tokenizer-identity.ts";
import { describeWithStories } from "../native-models/testing/stories.ts";
import { openIngestor } from "./datastore-wiring.ts";

const story = (name: string) =>
    `Once upon a time there was a ${name} who lived near the sea. Every morning the ${name} walked to the harbor and counted the boats.\n`;

describeWithStories("Ingestor", (modelPath) => {
    let dir: string;
    let ds: Datastore;
    let ingestor: Ingestor;
    let model: LlamaModel;
    let index: RetrievalIndex;

    beforeAll(async () => {
        dir = mkdtempSync(join(tmpdir(), "presage-ingest-"));
        ds = Datastore.open(join(dir, "store.db"));
        ingestor = await openIngestor({ datastore: ds, modelPath, workers: 2 });
        const llama = await getRuntime({ backend: "cpu" });
        model = await llama.loadModel({ modelPath, vocabOnly: true });
        index = RetrievalIndex.open(ds, ingestor.tokenizer.id);
    });
    afterAll(async () => {
        index?.close();
        await ingestor?.close();
        ds?.close();
        await model?.dispose();
        rmSync(dir, { recursive: true, force: true });
    });

    /** What the index says follows `prefix`, as text. */
    const continuation = (prefix: string): string | undefined => {
        const result = index.find(model.tokenize(prefix), { maxTokens: 16 });
        return result == null ? undefined : model.detokenize(result.continuations[0].tokens as Token[]);
    };

    it("names the tokenizer the same way in the workers and for a loaded model", () => {
        expect(ingestor.tokenizer.id).toBe(tokenizerIdentity(model).id);
        expect(ingestor.tokenizer).toMatchObject({ vocabSize: 512, tokenWidth: 2 });
    });

    it("indexes every supported format and records why each bad file was skipped", async () => {
        const root = join(dir, "mixed");
        mkdirSync(join(root, "node_modules"), { recursive: true });
        mkdirSync(join(root, ".git"));
        mkdirSync(join(root, "loop"));
        writeFileSync(join(root, "notes.md"), "# Notes\n\nThe purple elephant juggled seven lemons at the fair.\n");
        writeFileSync(join(root, "page.html"), "<html><script>var hidden = 'zebra';</script><body><p>The copper kettle whistled at noon.</p></body></html>");
        writeFileSync(join(root, "code.ts"), "export function addTwoNumbers(a: number, b: number) { return a + b; }\n");
        writeFileSync(join(root, "data.json"), '{"captain": "Marigold", "ship": "Wandering Star"}\n');
        writeFileSync(join(root, "table.csv"), "name,color\nlemon,yellow\n");
        writeFileSync(join(root, "config.yaml"), "garden:\n  flowers: tulips\n");
        writeFileSync(join(root, "paper.pdf"), makePdf("The lighthouse keeper counted ships."));
        writeFileSync(join(root, "letter.docx"), makeDocx("The baker folded the dough twice."));
        writeFileSync(join(root, "binary.txt"), Buffer.from([0x48, 0x69, 0x00, 0x01, 0x02, 0x00]));
        writeFileSync(join(root, "latin1.txt"), Buffer.from("caf\xe9 cr\xe8me", "latin1"));
        writeFileSync(join(root, "empty.txt"), "");
        writeFileSync(join(root, "broken.pdf"), "%PDF-1.7\nthis is not really a pdf\n");
        // 2 GB of nothing: sparse, so it costs no disk; it must be skipped from its size alone.
        writeFileSync(join(root, "huge.txt"), "");
        truncateSync(join(root, "huge.txt"), 2 * 1024 ** 3);
        // Running as root, chmod 000 still reads: a broken link and a FIFO are what cannot be read.
        symlinkSync(join(root, "gone.txt"), join(root, "dangling.txt"));
        execFileSync("mkfifo", [join(root, "pipe.txt")]);
        symlinkSync(root, join(root, "loop", "back"));
        writeFileSync(join(root, "node_modules", "dep.js"), "module.exports = 1;\n");
        writeFileSync(join(root, ".git", "HEAD.txt"), "ref: main\n");
        writeFileSync(join(root, "photo.png"), Buffer.from([0x89, 0x50, 0x4e, 0x47]));

        const events: IngestProgress[] = [];
        ingestor.on("progress", (p) => events.push(p));
        const source = await ingestor.addSource(root);
        const started = performance.now();
        const report = await ingestor.scan({ sourceIds: [source.id] });
        ingestor.removeAllListeners("progress");
        expect(performance.now() - started).toBeLessThan(30_000);

        const name = (p: string) => p.slice(root.length + 1);
        expect(Object.fromEntries(report.skipped.map((s) => [name(s.path), s.reason.replace(/ \(.*\)$/, "")]))).toEqual({
            "binary.txt": "binary content",
            "latin1.txt": "not valid UTF-8 text",
            "empty.txt": "empty file",
            "broken.pdf": "malformed PDF",
            "huge.txt": "too large",
            "dangling.txt": "unreadable",
            "pipe.txt": "not a regular file",
            "photo.png": "not a text file"
        });
        expect(report.skipped.find((s) => s.path.endsWith("huge.txt"))?.reason).toBe(`too large (${2 * 1024 ** 3} bytes, limit ${20 * 1024 * 1024})`);
        expect(report.indexed).toBe(8);
        expect(report.files).toBe(16);
        expect(report.added).toBe(8);
        expect(report.tokens).toBeGreaterThan(50);
        const indexedNames = ds.documents
            .list(source.id)
            .filter((d) => d.status === "ready")
            .map((d) => name(d.path))
            .sort();
        expect(indexedNames).toEqual(["code.ts", "config.yaml", "data.json", "letter.docx", "notes.md", "page.html", "paper.pdf", "table.csv"]);
        const page = ds.documents.list(source.id).find((d) => d.path.endsWith("page.html"))!;
        expect(ds.documents.text(page.id)).toBe("The copper kettle whistled at noon.");

        // Progress: counts only go up and end complete.
        const last = events[events.length - 1];
        expect(last).toMatchObject({ phase: "done", filesDone: 12, filesTotal: 12 });
        expect(events.map((e) => e.phase)).toContain("reading");
        for (let i = 1; i < events.length; i++) expect(events[i].filesDone).toBeGreaterThanOrEqual(events[i - 1].filesDone);

        // Everything indexed is searchable, from every format.
        expect(continuation("The purple elephant juggled")).toMatch(/^ ?seven lemons/);
        expect(continuation("The copper kettle")).toMatch(/^ ?whistled at noon/);
        expect(continuation("The lighthouse keeper")).toMatch(/^ ?counted ships/);
        expect(continuation("The baker folded")).toMatch(/^ ?the dough twice/);
        expect(continuation("var hidden =")).toBeUndefined();
    });

    it("re-scans: picks up added, changed and deleted files, and does not re-read touched ones", async () => {
        const root = join(dir, "live");
        mkdirSync(root);
        writeFileSync(join(root, "keep.txt"), story("fisherman"));
        writeFileSync(join(root, "change.txt"), "The red balloon floated over the quiet village.\n");
        writeFileSync(join(root, "delete.txt"), "The silver spoon fell into the deep well.\n");
        writeFileSync(join(root, "touch.txt"), "The wooden horse stood still in the rain.\n");
        const source = await ingestor.addSource(root);
        const first = await ingestor.scan({ sourceIds: [source.id] });
        expect(first).toMatchObject({ files: 4, indexed: 4, added: 4 });
        expect(continuation("The red balloon")).toMatch(/^ ?floated over/);
        expect(continuation("The silver spoon")).toMatch(/^ ?fell into/);

        const unchanged = await ingestor.scan({ sourceIds: [source.id] });
        expect(unchanged).toMatchObject({ files: 4, indexed: 4, added: 0, unchanged: 4, removed: 0, bytes: 0 });

        writeFileSync(join(root, "change.txt"), "The red balloon popped above the noisy market.\n");
        utimesSync(join(root, "change.txt"), new Date(), new Date(Date.now() + 5000));
        rmSync(join(root, "delete.txt"));
        writeFileSync(join(root, "added.md"), "The green frog sang a song about the moon.\n");
        utimesSync(join(root, "touch.txt"), new Date(), new Date(Date.now() + 5000));
        const second = await ingestor.scan({ sourceIds: [source.id] });
        expect(second).toMatchObject({ files: 4, indexed: 4, added: 2, removed: 1, unchanged: 2 });
        expect(continuation("The red balloon")).toMatch(/^ ?popped above/);
        expect(continuation("The silver spoon") ?? "").not.toMatch(/^ ?fell into/);
        expect(continuation("The green frog")).toMatch(/^ ?sang a song/);
        expect(continuation("The wooden horse")).toMatch(/^ ?stood still/);
        expect(ds.integrityCheck()).toBe("ok");
    });

    it("removing a source removes its data and keeps the others searchable", async () => {
        const a = join(dir, "remove-a");
        const b = join(dir, "remove-b");
        mkdirSync(a);
        mkdirSync(b);
        writeFileSync(join(a, "a.txt"), "The orange cat chased the paper boat down the stream.\n");
        writeFileSync(join(b, "b.txt"), "The blue whale hummed a tune to the sleepy stars.\n");
        const sa = await ingestor.addSource(a);
        const sb = await ingestor.addSource(b);
        await ingestor.scan({ sourceIds: [sa.id, sb.id] });
        expect(continuation("The orange cat")).toMatch(/^ ?chased the paper boat/);
        expect(await ingestor.removeSource(sa.id)).toBe(true);
        expect(ds.sources.get(sa.id)).toBeUndefined();
        expect(ds.documents.list(sa.id)).toEqual([]);
        expect(continuation("The orange cat") ?? "").not.toMatch(/^ ?chased the paper boat/);
        expect(continuation("The blue whale")).toMatch(/^ ?hummed a tune/);
        expect(ds.shards.unsharded(ingestor.tokenizer.id)).toEqual([]);
    });

    it("re-tokenizes stored text without reading the files (a tokenizer switch)", async () => {
        const root = join(dir, "retok");
        mkdirSync(root);
        writeFileSync(join(root, "r.txt"), "The tiny robot polished every star in the sky.\n");
        const source = await ingestor.addSource(root);
        await ingestor.scan({ sourceIds: [source.id] });
        const ready = ds.documents.counts().ready;
        // Forget every token stream (as if a new tokenizer came in) and take the files away.
        ds.db.prepare("DELETE FROM token_streams").run();
        rmSync(root, { recursive: true });
        index.refresh();
        expect(index.tokenCount).toBe(0);
        const report = await ingestor.retokenize();
        expect(report.retokenized).toBe(ready);
        expect(continuation("The tiny robot")).toMatch(/^ ?polished every star/);
        expect(index.tokenCount).toBe(ds.documents.tokenCount(ingestor.tokenizer.id));
    });

    it("the watcher re-scans a watched folder when its files change", async () => {
        const root = join(dir, "watched");
        mkdirSync(root);
        writeFileSync(join(root, "first.txt"), "The yellow kite danced above the windy hill.\n");
        const source = await ingestor.addSource(root, { watch: true });
        await ingestor.scan({ sourceIds: [source.id] });
        const scans: number[] = [];
        const watcher = await SourceWatcher.start(ingestor, { debounceMs: 200, onScan: (_s, r) => scans.push(r.added) });
        try {
            writeFileSync(join(root, "second.txt"), "The brave mouse opened the heavy castle door.\n");
            const deadline = Date.now() + 20_000;
            while (scans.reduce((a, b) => a + b, 0) < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
            expect(scans.reduce((a, b) => a + b, 0)).toBe(1);
            expect(continuation("The brave mouse")).toMatch(/^ ?opened the heavy/);
        } finally {
            await watcher.close();
        }
    });
});
