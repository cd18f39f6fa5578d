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
            fast.dispose();
        } finally {
            await context.dispose();
            await model.dispose();
        }
    });
});
