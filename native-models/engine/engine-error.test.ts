import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ChatSession } from "../chat/chat-session.ts";
import { EngineError } from "../engine-error.ts";
import { synthesizeModel } from "../gguf/synth.ts";
import { describeWithStories } from "../testing/stories.ts";
import { PresageEngine } from "./presage-engine.ts";

const work = mkdtempSync(join(tmpdir(), "presage-engine-errors-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Runs `attempt` and returns what it threw (failing if it did not). */
async function thrown(attempt: () => Promise<unknown>): Promise<unknown> {
    try {
        await attempt();
    } catch (err) {
        return err;
    }
    return expect.unreachable("expected an error");
}

describe("the engine's errors carry codes (bad input on real models)", () => {
    let modelPath: string;
    let engine: PresageEngine;
    beforeAll(async () => {
        modelPath = (await synthesizeModel({ out: join(work, "synth.gguf"), seed: 7, layers: 2, contextLength: 64 })).out;
        engine = await PresageEngine.load({ modelPath, threads: 1, calibrate: false, cacheDir: work });
    });
    afterAll(() => engine?.dispose());

    it("refuses a truncated GGUF file with invalid-model-file", async () => {
        const broken = join(work, "broken.gguf");
        writeFileSync(broken, readFileSync(modelPath).subarray(0, 200));
        const err = await thrown(() => PresageEngine.load({ modelPath: broken, threads: 1, calibrate: false }));
        expect(err).toBeInstanceOf(EngineError);
        expect(err).toMatchObject({ code: "invalid-model-file", message: expect.stringMatching(/broken\.gguf/) });
        expect(await thrown(() => PresageEngine.load({ modelPath: join(work, "missing.gguf"), threads: 1, calibrate: false })))
            .toMatchObject({ code: "invalid-model-file" });
    });

    it("refuses a named strategy that is not available, and leaves it out when asked to", async () => {
        const err = await thrown(() => engine.generate({ prompt: "the cat", maxTokens: 4, strategies: ["draft"] }));
        expect(err).toBeInstanceOf(EngineError);
        expect(err).toMatchObject({ code: "strategy-unavailable", message: expect.stringMatching(/"draft" strategy is not available: no draft model is loaded\. Available: none, auto, ngram/) });
        const skipped = await engine.generate({ prompt: "the cat", maxTokens: 4, strategies: ["draft", "ngram"], skipUnavailable: true });
        expect(skipped.strategies).toEqual(["ngram"]);
        expect((await engine.generate({ prompt: "the cat", maxTokens: 4, strategies: ["auto"] })).strategies).toEqual(["ngram"]);
    });

    it("refuses a prompt longer than the context with context-overflow", async () => {
        const long = engine.tokenize("the cat sat on the mat ".repeat(40));
        expect(long.length).toBeGreaterThan(64);
        expect(await thrown(() => engine.generate({ prompt: long, maxTokens: 4 }))).toMatchObject({ code: "context-overflow" });
        const chat = new ChatSession(engine);
        expect(await thrown(() => chat.respond([{ role: "user", content: "the cat sat on the mat ".repeat(40) }], { maxTokens: 4 })))
            .toMatchObject({ code: "context-overflow" });
        expect(await thrown(() => chat.respond([{ role: "assistant", content: "hello" }], { maxTokens: 4 }))).toMatchObject({ code: "invalid-prompt" });
    });

    it("refuses early exit on a one-block model with strategy-unavailable", async () => {
        const { out } = await synthesizeModel({ out: join(work, "one-block.gguf"), seed: 2, layers: 1 });
        const one = await PresageEngine.load({ modelPath: out, threads: 1, calibrate: false, cacheDir: work });
        try {
            expect(await thrown(() => one.generate({ prompt: "the cat", maxTokens: 4, strategies: ["early-exit"] }))).toMatchObject({ code: "strategy-unavailable" });
        } finally {
            await one.dispose();
        }
    });
});

describe("the engine's cache folder", () => {
    const saved = process.env.PRESAGE_CACHE_DIR;
    afterEach(() => {
        if (saved === undefined) delete process.env.PRESAGE_CACHE_DIR;
        else process.env.PRESAGE_CACHE_DIR = saved;
    });

    it("is PRESAGE_CACHE_DIR when no cacheDir is given", async () => {
        const cache = join(work, "env-cache");
        process.env.PRESAGE_CACHE_DIR = cache;
        const { out } = await synthesizeModel({ out: join(work, "three-block.gguf"), seed: 5, layers: 3 });
        const engine = await PresageEngine.load({ modelPath: out, threads: 1, calibrate: false });
        try {
            await engine.generate({ prompt: "the cat", maxTokens: 4, strategies: ["early-exit"] });
        } finally {
            await engine.dispose();
        }
        expect(existsSync(join(cache, "early-exit"))).toBe(true);
        expect(readdirSync(join(cache, "early-exit")).some((f) => f.endsWith(".gguf"))).toBe(true);
    });
});

describeWithStories("a draft with another vocabulary", (storiesPath) => {
    it("is refused at load with vocabulary-mismatch", async () => {
        const { out } = await synthesizeModel({ out: join(work, "other-vocab.gguf"), seed: 3 });
        const err = await thrown(() => PresageEngine.load({ modelPath: storiesPath, draftModelPath: out, threads: 1, calibrate: false }));
        expect(err).toBeInstanceOf(EngineError);
        expect(err).toMatchObject({ code: "vocabulary-mismatch", message: expect.stringMatching(/vocabularies differ/) });
    });
});
