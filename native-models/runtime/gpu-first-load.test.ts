import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import { readGgufFile } from "../gguf/gguf-reader.ts";
import { synthesizeModel } from "../gguf/synth.ts";
import { describeWithStories } from "../testing/stories.ts";
import { gpuLoadKey, GpuLoadMarkers, type GpuLoadKeyOptions } from "./gpu-first-load.ts";
import { getRuntime } from "./llama-runtime.ts";

const work = mkdtempSync(join(tmpdir(), "presage-gpu-first-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describeWithStories("which loads first compile GPU kernels (the loading bar's note)", (storiesPath) => {
    it("is a GPU load of a device, llama.cpp build and model shape never loaded before; never the CPU", async () => {
        const stories = await readGgufFile(storiesPath);
        const other = await readGgufFile((await synthesizeModel({ out: join(work, "synth.gguf"), seed: 3 })).out);
        const vulkan: GpuLoadKeyOptions = { gpu: "vulkan", devices: ["llvmpipe (LLVM 15.0.6, 256 bits)"], llamaCpp: "ggml-org/llama.cpp@b6000 prebuilt", nodeLlamaCpp: "3.14.0", model: stories, gpuLayers: "auto" };
        const markers = new GpuLoadMarkers(join(work, "cache"));

        // The CPU backend and no layer offloaded compile nothing: never a note.
        expect(gpuLoadKey({ ...vulkan, gpu: false })).toBeNull();
        expect(gpuLoadKey({ ...vulkan, gpuLayers: 0 })).toBeNull();
        expect(await markers.seen(null)).toBe(true);

        const key = gpuLoadKey(vulkan)!;
        expect(await markers.seen(key)).toBe(false);
        await markers.remember(key);
        expect(await markers.seen(key)).toBe(true);
        // The same shape with other GPU-layer counts shares the kernels; a new marker folder (another cache) does not know it.
        expect(await markers.seen(gpuLoadKey({ ...vulkan, gpuLayers: "max" }))).toBe(true);
        expect(await new GpuLoadMarkers(join(work, "other-cache")).seen(key)).toBe(false);

        // Anything that changes the kernels is a first load again.
        for (const changed of [
            { devices: ["AMD Radeon RX 7600"] },
            { gpu: "cuda" as const },
            { llamaCpp: "ggml-org/llama.cpp@b6001 prebuilt" },
            { nodeLlamaCpp: "3.15.0" },
            { model: other }
        ])
            expect(await markers.seen(gpuLoadKey({ ...vulkan, ...changed })), JSON.stringify(Object.keys(changed))).toBe(false);
    });

    it("has no key on the CPU runtime, whatever the GPU layers", async () => {
        const cpu = await getRuntime({ backend: "cpu" });
        expect(await GpuLoadMarkers.keyOf(cpu, storiesPath, "max")).toBeNull();
    });

    it("forgets nothing and breaks nothing where the cache cannot be written", async () => {
        // A file where the cache folder should be: its folder cannot be made.
        writeFileSync(join(work, "a-file"), "");
        const markers = new GpuLoadMarkers(join(work, "a-file"));
        const key = gpuLoadKey({ gpu: "vulkan", devices: ["x"], llamaCpp: "a", nodeLlamaCpp: "b", model: await readGgufFile(storiesPath), gpuLayers: "auto" });
        await markers.remember(key);
        expect(await markers.seen(key)).toBe(false);
    });
});
