import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Datastore } from "../datastore.ts";
import { RetrievalIndex } from "../index/retrieval-index.ts";
import { Ingestor } from "./ingestor.ts";

// The store tokenizes with whatever module the app names. A byte-level tokenizer written here shows
// ingestion needs no model runtime of its own: one token per UTF-8 byte.
const byteTokenizer = `
export async function openTokenizer(modelPath) {
    return { identity: { id: "bytes:" + modelPath, vocabSize: 256, label: "bytes" }, tokenize: (text) => Uint8Array.from(Buffer.from(text, "utf8")) };
}
`;

let dir: string;
let ds: Datastore;
beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "presage-tokmod-"));
    ds = Datastore.open(join(dir, "store.db"));
});
afterEach(() => {
    ds.close();
    rmSync(dir, { recursive: true, force: true });
});

describe("the tokenizer module the app hands the ingestion workers", () => {
    it("tokenizes the documents, under the identity it reports", async () => {
        const module = join(dir, "bytes.mjs");
        writeFileSync(module, byteTokenizer);
        const docs = join(dir, "docs");
        mkdirSync(docs);
        writeFileSync(join(docs, "a.txt"), "the lighthouse keeper polished the brass lamp");
        const ingestor = await Ingestor.create({ datastore: ds, modelPath: "any.gguf", tokenizerModule: pathToFileURL(module).href, workers: 1 });
        try {
            expect(ingestor.tokenizer).toMatchObject({ id: "bytes:any.gguf", vocabSize: 256, tokenWidth: 2, label: "bytes" });
            const source = await ingestor.addSource(docs);
            const report = await ingestor.scan({ sourceIds: [source.id] });
            expect(report.indexed).toBe(1);
            expect(report.tokens).toBe(Buffer.byteLength("the lighthouse keeper polished the brass lamp"));
        } finally {
            await ingestor.close();
        }
        const index = RetrievalIndex.open(ds, "bytes:any.gguf");
        try {
            const found = index.find(Buffer.from("lighthouse keeper "), { maxTokens: 8 });
            expect(Buffer.from(found!.continuations[0]!.tokens).toString()).toBe("polished");
        } finally {
            index.close();
        }
    });

    it("that cannot be loaded, or exports no openTokenizer, fails with one line naming it", async () => {
        const missing = pathToFileURL(join(dir, "nowhere.mjs")).href;
        const create = (tokenizerModule: string) => Ingestor.create({ datastore: ds, modelPath: "m.gguf", tokenizerModule, workers: 1 });
        const err1 = await create(missing).catch((e: Error) => e);
        expect(err1).toBeInstanceOf(Error);
        expect((err1 as Error).message).toMatch(new RegExp(`^Cannot load the vocabulary of m\\.gguf: the tokenizer module ${missing.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")} cannot be loaded \\(.+\\)$`));
        const empty = join(dir, "empty.mjs");
        writeFileSync(empty, "export const nothing = 1;\n");
        const err2 = await create(pathToFileURL(empty).href).catch((e: Error) => e);
        expect((err2 as Error).message).toBe(`Cannot load the vocabulary of m.gguf: the tokenizer module ${pathToFileURL(empty).href} does not export openTokenizer`);
        expect(ds.tokenizers.list()).toEqual([]);
    });
});
