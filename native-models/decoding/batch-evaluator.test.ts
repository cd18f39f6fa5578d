import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Token } from "node-llama-cpp";
import { afterAll, describe, expect, it } from "vitest";
import { synthesizeModel } from "../gguf/synth.ts";
import { getRuntime } from "../runtime/llama-runtime.ts";
import { BatchEvaluator } from "./batch-evaluator.ts";
import { PositionSampler } from "./sampling.ts";

const work = mkdtempSync(join(tmpdir(), "presage-batch-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("BatchEvaluator", () => {
    it("uses node-llama-cpp's internals and draws what controlledEvaluate draws", async () => {
        const { out } = await synthesizeModel({ out: join(work, "m.gguf"), seed: 11 });
        const llama = await getRuntime();
        const model = await llama.loadModel({ modelPath: out });
        const context = await model.createContext({ contextSize: 256, threads: 1, sequences: 2 });
        try {
            const fastSequence = context.getSequence();
            const publicSequence = context.getSequence();
            const fast = new BatchEvaluator(fastSequence);
            // If a node-llama-cpp upgrade moves the internals, this fails instead of silently slowing down.
            expect(fast.fast).toBe(true);
            const prompt = model.tokenize("the cat and the dog") as Token[];
            const greedy = new PositionSampler({ temperature: 0 });
            const sampled = new PositionSampler({ temperature: 1, seed: 5 });
            for (const sampler of [greedy, sampled]) {
                await fastSequence.clearHistory();
                await publicSequence.clearHistory();
                const options = prompt.map((_, i) => sampler.at(i));
                const a = await fast.evaluate(prompt, options);
                const out = await publicSequence.controlledEvaluate(prompt.map((t, i) => [t, { generateNext: options[i]! }]));
                expect(a).toEqual(out.map((o) => o?.next.token ?? null));
                expect(fastSequence.contextTokens).toEqual(prompt);
            }
            // Drawing the same position again with the same seed gives the same token, as a rejected
            // position drawn again must (the native sampler alone would continue its random stream).
            const flat = new PositionSampler({ temperature: 2, topK: 0, topP: 1, seed: 77 });
            const options = flat.at(3);
            await fastSequence.clearHistory();
            await fast.evaluate(prompt.slice(0, -1), prompt.slice(0, -1).map(() => null));
            const draws = new Set<Token | null>();
            for (let i = 0; i < 12; i++) {
                draws.add((await fast.evaluate([prompt.at(-1)!], [options]))[0]!);
                await fastSequence.eraseContextTokenRanges([{ start: fastSequence.nextTokenIndex - 1, end: fastSequence.nextTokenIndex }]);
            }
            expect(draws.size).toBe(1);
            fast.dispose();
        } finally {
            await context.dispose();
            await model.dispose();
        }
    });
});
