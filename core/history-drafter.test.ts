import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { LlamaModel, Token } from "node-llama-cpp";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { Datastore } from "../datastore/datastore.ts";
import { HistoryIndex } from "../datastore/history/history-index.ts";
import type { Tokenizer } from "../datastore/tokenizers.ts";
import { HistoryDrafter } from "../native-models/drafters/history-drafter.ts";
import { getRuntime } from "../native-models/runtime/llama-runtime.ts";
import { describeWithStories } from "../native-models/testing/stories.ts";
import { openHistoryIndex } from "./datastore-wiring.ts";

let dir: string;
let ds: Datastore;
beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "presage-history-"));
    ds = Datastore.open(join(dir, "store.db"));
});
afterEach(() => {
    ds.close();
    rmSync(dir, { recursive: true, force: true });
});

/** A word-level tokenizer with ids far above 65,535, as Llama 3 or Qwen vocabularies have. */
const bigVocabulary: Tokenizer = {
    identity: { id: "synthetic-152k", vocabSize: 152_000, label: "synthetic" },
    tokenize(text) {
        return text
            .split(/\s+/)
            .filter(Boolean)
            .map((w) => {
                let h = 0;
                for (const c of w) h = (h * 31 + c.codePointAt(0)!) % 80_000;
                return 70_000 + h;
            });
    }
};

describe("HistoryDrafter over a 152k vocabulary", () => {
    it("guesses from past answers, follows new ones, and obeys the setting and clearing", () => {
        const c = ds.conversations.create({ title: "t" });
        ds.conversations.addMessage(c.id, { role: "user", content: "how do I sort a list in python" });
        ds.conversations.addMessage(c.id, { role: "assistant", content: "use the sorted function with a key argument to sort by any field" });
        const index = HistoryIndex.open({ datastore: ds, tokenizer: bigVocabulary });
        const drafter = new HistoryDrafter(index);
        const ask = (text: string) => drafter.propose(bigVocabulary.tokenize(text) as Token[], 8);
        try {
            const hyps = ask("you can use the sorted function");
            expect(hyps[0].source).toBe("history");
            expect(hyps[0].tokens).toEqual(bigVocabulary.tokenize("with a key argument to sort by any"));
            expect(hyps[0].tokens.every((t) => t >= 70_000)).toBe(true);
            // The user's own words are not history.
            expect(ask("how do I sort a list")).toEqual([]);

            // A new answer is searchable as soon as it is stored.
            ds.conversations.addMessage(c.id, { role: "assistant", content: "the lambda returns the field to compare when sorting records" });
            expect(ask("here the lambda returns")[0].tokens).toEqual(bigVocabulary.tokenize("the field to compare when sorting records"));

            ds.settings.set("history.enabled", false);
            expect(index.tokenCount).toBe(0);
            expect(ask("you can use the sorted function")).toEqual([]);
            ds.settings.set("history.enabled", true);
            expect(ask("you can use the sorted function")).toHaveLength(1);

            ds.conversations.clearHistory();
            expect(ask("you can use the sorted function")).toEqual([]);
            expect(index.tokenCount).toBe(0);
        } finally {
            drafter.dispose();
            index.close();
        }
    });

    it("keeps a few shards as answers pile up, and finds every answer", () => {
        const index = HistoryIndex.open({ datastore: ds, tokenizer: bigVocabulary });
        const c = ds.conversations.create();
        for (let i = 0; i < 200; i++)
            ds.conversations.addMessage(c.id, { role: "assistant", content: `answer number w${i} says the secret code is k${i * 7} and nothing else` });
        expect(index.shardCount).toBeLessThanOrEqual(10);
        const drafter = new HistoryDrafter(index);
        for (const i of [0, 57, 199]) {
            const hyps = drafter.propose(bigVocabulary.tokenize(`answer number w${i} says`) as Token[], 5);
            expect(hyps[0].tokens).toEqual(bigVocabulary.tokenize(`the secret code is k${i * 7}`));
        }
        // Reopening reads the cached token streams.
        const tokens = index.tokenCount;
        index.close();
        const cached = (ds.db.prepare("SELECT count(*) AS n FROM message_tokens").get() as { n: number }).n;
        expect(cached).toBe(200);
        const reopened = HistoryIndex.open({ datastore: ds, tokenizer: { ...bigVocabulary, tokenize: () => { throw new Error("should use the cache"); } } });
        expect(reopened.tokenCount).toBe(tokens);
        expect(reopened.shardCount).toBe(1);
        expect(new HistoryDrafter(reopened).propose(bigVocabulary.tokenize("answer number w57 says") as Token[], 5)[0].tokens).toEqual(
            bigVocabulary.tokenize("the secret code is k399")
        );
        reopened.close();
    });
});

describeWithStories("HistoryDrafter with a real vocabulary", (modelPath) => {
    let model: LlamaModel;
    beforeAll(async () => {
        model = await (await getRuntime({ backend: "cpu" })).loadModel({ modelPath, vocabOnly: true });
    });
    afterAll(async () => {
        await model?.dispose();
    });

    it("proposes the rest of an earlier answer", () => {
        const c = ds.conversations.create();
        ds.conversations.addMessage(c.id, { role: "assistant", content: "The little bird flew over the river and sang a happy song." });
        const index = openHistoryIndex(ds, model);
        const drafter = new HistoryDrafter(index, {}, index);
        try {
            const hyps = drafter.propose(model.tokenize("Once the little bird flew", false), 8);
            expect(model.detokenize(hyps[0].tokens)).toMatch(/^ ?over the river/);
        } finally {
            drafter.dispose();
        }
        const shared = openHistoryIndex(ds, model);
        expect(shared.tokenCount).toBeGreaterThan(5);
        shared.close();
    });
});
