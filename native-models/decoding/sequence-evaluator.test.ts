import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Token } from "node-llama-cpp";
import { afterAll, describe, expect, it } from "vitest";
import { synthesizeModel } from "../gguf/synth.ts";
import { getRuntime } from "../runtime/llama-runtime.ts";
import { PositionSampler } from "./sampling.ts";
import { NativeSequenceEvaluator, PublicSequenceEvaluator } from "./sequence-evaluator.ts";

const work = mkdtempSync(join(tmpdir(), "presage-evaluator-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("NativeSequenceEvaluator", () => {
    it("uses node-llama-cpp's internals and draws what the public controlledEvaluate draws", async () => {
        const { out } = await synthesizeModel({ out: join(work, "m.gguf"), seed: 11 });
        const llama = await getRuntime();
        const model = await llama.loadModel({ modelPath: out });
        const nativeContext = await model.createContext({ contextSize: 256, threads: 1, sequences: 1 });
        const publicContext = await model.createContext({ contextSize: 256, threads: 1, sequences: 1 });
        try {
            // If a node-llama-cpp upgrade moves the internals, this fails instead of silently slowing down.
            const sequence = nativeContext.getSequence();
            expect(NativeSequenceEvaluator.usable(sequence)).toBe(true);
            const fast = new NativeSequenceEvaluator(sequence);
            const slow = new PublicSequenceEvaluator(publicContext.getSequence());
            const prompt = model.tokenize("the cat and the dog") as Token[];
            for (const sampler of [new PositionSampler({ temperature: 0 }), new PositionSampler({ temperature: 1, seed: 5 })]) {
                await fast.eraseFrom(0);
                await slow.eraseFrom(0);
                const options = prompt.map((_, i) => sampler.at(i));
                await fast.decode(prompt, options);
                await slow.decode(prompt, options);
                for (let row = 0; row < prompt.length; row++) expect(await fast.draw(row)).toEqual(await slow.draw(row));
                expect(fast.tokens).toEqual(prompt);
                // Erasing a tail keeps the head usable: the next row drawn matches again.
                await fast.eraseFrom(3);
                await slow.eraseFrom(3);
                await fast.decode(prompt.slice(3), options.slice(3));
                await slow.decode(prompt.slice(3), options.slice(3));
                expect(await fast.draw(prompt.length - 4)).toEqual(await slow.draw(prompt.length - 4));
            }
            // Drawing the same position again with the same seed gives the same token, as a rejected
            // position drawn again must (the native sampler alone would continue its random stream).
            const options = new PositionSampler({ temperature: 2, topK: 0, topP: 1, seed: 77 }).at(3);
            await fast.eraseFrom(0);
            await fast.decode(prompt.slice(0, -1), prompt.slice(0, -1).map(() => null));
            const draws = new Set<Token | undefined>();
            for (let i = 0; i < 12; i++) {
                await fast.decode([prompt.at(-1)!], [options]);
                draws.add((await fast.draw(0))?.token);
                await fast.eraseFrom(prompt.length - 1);
            }
            expect(draws.size).toBe(1);
            // A draw with confidence reports the token's probability.
            await fast.decode([prompt.at(-1)!], [{ token: true, confidence: true }]);
            const drawn = await fast.draw(0);
            expect(drawn?.confidence).toBeGreaterThan(0);
            expect(drawn?.confidence).toBeLessThanOrEqual(1);
            fast.dispose();
            // It refuses a context whose other sequences it could disturb.
            const shared = await model.createContext({ contextSize: 128, threads: 1, sequences: 2 });
            expect(() => new NativeSequenceEvaluator(shared.getSequence())).toThrow(/exactly one sequence/);
            await shared.dispose();
        } finally {
            await nativeContext.dispose();
            await publicContext.dispose();
            await model.dispose();
        }
    });
    it("draws queued right behind their batch give what draws after it give, also when some are never taken", async () => {
        // npm test runs with one pool thread, where draws are queued behind their batch: say so if not.
        expect(process.env.UV_THREADPOOL_SIZE, "run with UV_THREADPOOL_SIZE=1 (npm test does) to test the early draws").toBe("1");
        const { out } = await synthesizeModel({ out: join(work, "early.gguf"), seed: 23 });
        const llama = await getRuntime();
        const model = await llama.loadModel({ modelPath: out });
        const nativeContext = await model.createContext({ contextSize: 256, threads: 1, sequences: 1 });
        const publicContext = await model.createContext({ contextSize: 256, threads: 1, sequences: 1 });
        try {
            const fast = new NativeSequenceEvaluator(nativeContext.getSequence());
            const slow = new PublicSequenceEvaluator(publicContext.getSequence());
            const prompt = model.tokenize("the cat and the dog") as Token[];
            for (const sampler of [new PositionSampler({ temperature: 0 }), new PositionSampler({ temperature: 1, seed: 9 })]) {
                await fast.eraseFrom(0);
                await slow.eraseFrom(0);
                const head = prompt.map((_, i) => (i === prompt.length - 1 ? sampler.at(0) : null));
                await fast.decode(prompt, head, 1);
                await slow.decode(prompt, head);
                let a = (await fast.draw(prompt.length - 1))!.token;
                let b = (await slow.draw(prompt.length - 1))!.token;
                expect(a).toBe(b);
                for (let position = 1; position < 40; position++) {
                    // A step that verifies two made-up guesses: three rows, two queued early, and only
                    // the first taken (a rejection), then the tail erased, as the verifier does.
                    const rows = [a, ((a + 1) % 64) as Token, ((a + 2) % 64) as Token];
                    const options = rows.map((_, i) => sampler.at(position + i));
                    const length = fast.tokens.length;
                    await fast.decode(rows, options, 2);
                    await slow.decode(rows, options);
                    a = (await fast.draw(0))!.token;
                    b = (await slow.draw(0))!.token;
                    expect(a).toBe(b);
                    await fast.eraseFrom(length + 1);
                    await slow.eraseFrom(length + 1);
                }
            }
            fast.dispose();
        } finally {
            await nativeContext.dispose();
            await publicContext.dispose();
            await model.dispose();
        }
    });
});
