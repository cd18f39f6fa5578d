import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectSameOrNearTie, plainMargins } from "../testing/near-ties.ts";
import { findStoriesModel } from "../models-dir.ts";
import { autoRefusal, getRuntime } from "./llama-runtime.ts";
import { firstGpuLoadNote } from "./gpu-first-load.ts";
import { PresageEngine } from "../engine/presage-engine.ts";
import type { StrategyName } from "../engine/strategy.ts";

// The GPU code path on a real Vulkan device: Mesa's llvmpipe, a software rasterizer that ggml lists
// only when named. Its speed says nothing about a GPU's; what it runs, it runs as a GPU backend does
// (layers offloaded, kernels compiled for the device, its own rounding of batch rows).
process.env.GGML_VK_VISIBLE_DEVICES ??= "0";

const storiesPath = findStoriesModel();
const devices = await getRuntime({ backend: "vulkan" }).then((l) => l.getGpuDeviceNames()).catch(() => [] as string[]);
const why = storiesPath == null ? "stories260K.gguf is missing" : devices.length === 0 ? "no Vulkan device here (apt-get install mesa-vulkan-drivers)" : null;
const work = mkdtempSync(join(tmpdir(), "presage-vulkan-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

if (why != null && process.env.CI === "true")
    describe("the engine on Vulkan", () => {
        throw new Error(`${why}: CI installs it`);
    });
else if (why != null) {
    console.warn(`SKIPPED "the engine on Vulkan": ${why}`);
    describe.skip("the engine on Vulkan", () => undefined);
} else
    describe("the engine on Vulkan (llvmpipe, a software device)", () => {
        let engine: PresageEngine;
        const firstNotes: string[] = [];
        beforeAll(async () => {
            // The first load compiles the device's kernels (tens of seconds; Mesa caches them).
            engine = await PresageEngine.load({ modelPath: storiesPath!, backend: "vulkan", gpuLayers: "max", threads: 1, cacheDir: work, onLoadNote: (n) => firstNotes.push(n) });
        }, 300_000);
        afterAll(() => engine?.dispose());

        it("loads every layer onto the device and reports it, its memory and the calibration measured there", () => {
            const info = engine.info;
            expect(info.backend.backend).toBe("vulkan");
            expect(info.backend.devices.join(" ")).toMatch(/llvmpipe/);
            // Without it llvmpipe's driver crashes under ggml-vulkan's fused kernels (see llama-runtime.ts).
            expect(process.env.GGML_VK_DISABLE_FUSION).toBe("1");
            // node-llama-cpp counts the output layer with the blocks: 5 blocks + 1 for stories260K.
            expect(info.gpuLayers).toBe(info.layers);
            expect(info.layers).toBeGreaterThan(1);
            expect(info.vram!.totalBytes).toBeGreaterThan(0);
            // llvmpipe reports its memory but not what is used of it (0 before and after loading).
            expect(info.vram!.usedBytes).toBeGreaterThanOrEqual(0);
            const c = info.calibration!;
            expect(typeof c.batchInvariant).toBe("boolean");
            expect(c.stepMs.every((ms) => ms > 0)).toBe(true);
            expect(c.plainByDepth.length).toBeGreaterThan(0);
        });

        it("says the first load of this device and model prepares the GPU, and the next one does not", async () => {
            expect(firstNotes).toEqual([firstGpuLoadNote]);
            const again: string[] = [];
            const second = await PresageEngine.load({ modelPath: storiesPath!, backend: "vulkan", gpuLayers: "max", threads: 1, cacheDir: work, calibrate: false, onLoadNote: (n) => again.push(n) });
            await second.dispose();
            expect(again).toEqual([]);
        }, 120_000);

        it("gives plain greedy output with every strategy (or departs only at near-ties, where rows are not batch-invariant)", async () => {
            const prompt = "Once upon a time";
            const plain = await engine.generate({ prompt, maxTokens: 48 });
            const margins = await plainMargins(engine.model, engine.tokenize(prompt), plain.tokens, 1);
            const strategies: StrategyName[][] = [["ngram"], ["early-exit"], ["auto"]];
            for (const s of strategies) {
                const spec = await engine.generate({ prompt, maxTokens: 48, strategies: s });
                if (engine.info.calibration!.batchInvariant) expect(spec.tokens, s.join()).toEqual(plain.tokens);
                else expectSameOrNearTie(spec.tokens, plain.tokens, margins, s.join());
            }
        });

        it("in exact mode, greedy and seeded sampled output are plain decoding's, token for token", async () => {
            const prompt = "Lily had a red ball";
            for (const sampling of [{ temperature: 0 }, { temperature: 0.9, topK: 40, seed: 7 }]) {
                const plain = await engine.generate({ prompt, maxTokens: 40, sampling, exact: true });
                for (const strategies of [["ngram"], ["early-exit"]] as StrategyName[][]) {
                    const spec = await engine.generate({ prompt, maxTokens: 40, sampling, strategies, exact: true });
                    expect(spec.tokens, `${strategies} at t=${sampling.temperature}`).toEqual(plain.tokens);
                }
            }
        });
    });

describe("auto's choice of backend", () => {
    it("never takes a software device or a GPU backend without a device", () => {
        expect(autoRefusal(false, [])).toBeNull();
        expect(autoRefusal("metal", ["Apple M2"])).toBeNull();
        expect(autoRefusal("vulkan", ["AMD Radeon RX 7600", "llvmpipe (LLVM 15.0.6, 256 bits)"])).toBeNull();
        expect(autoRefusal("vulkan", ["llvmpipe (LLVM 15.0.6, 256 bits)"])).toMatch(/software device/);
        expect(autoRefusal("vulkan", [])).toMatch(/lists no device/);
    });
});
