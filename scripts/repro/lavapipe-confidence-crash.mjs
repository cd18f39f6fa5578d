#!/usr/bin/env node
// The smallest reproduction of the Vulkan segfault of issue 21, with node-llama-cpp's public API only.
//
//   apt-get install -y mesa-vulkan-drivers
//   GGML_VK_VISIBLE_DEVICES=0 UV_THREADPOOL_SIZE=1 node scripts/repro/lavapipe-confidence-crash.mjs
//
// On Mesa's llvmpipe Vulkan device (Debian 12, Mesa 22.3, node-llama-cpp 3.21.1's prebuilt Vulkan
// binary) it ends with SIGSEGV (exit 139) on the third batch: batches of 1, 2, then 3 rows, every row
// drawn with its probability (`confidence: true`). gdb puts the fault in a thread of Mesa's driver
// (libvulkan_lvp.so), not in node-llama-cpp or llama.cpp code. The same calls do not crash on the CPU
// backend (`--cpu`), nor without `confidence`, nor with batches of a fixed size; Presage's own
// evaluator crashes on the same sequence when it draws rows early (as soon as the decode returns).
//
// With `--no-fusion` (ggml-vulkan's own GGML_VK_DISABLE_FUSION=1, set after the devices are listed and
// before the model loads, as Presage does on a software device) the same calls run to the end: 5 of 5
// runs against 0 of 5 with fused kernels (2026-12-02). GGML_VK_SERIALIZE_SUBMISSIONS=1 avoids it too;
// GGML_VK_DISABLE_ASYNC, _MMVQ, _MULTI_ADD, _GRAPH_OPTIMIZE, _HOST_VISIBLE_VIDMEM and LP_NUM_THREADS do not.
import { getLlama } from "node-llama-cpp";
import { fileURLToPath } from "node:url";

const cpu = process.argv.includes("--cpu");
const modelPath = fileURLToPath(new URL("../../models/stories260K.gguf", import.meta.url));
const llama = await getLlama({ gpu: cpu ? false : "vulkan", build: "never" });
if (process.argv.includes("--no-fusion")) process.env.GGML_VK_DISABLE_FUSION = "1";
const model = await llama.loadModel({ modelPath, gpuLayers: cpu ? 0 : "max" });
const context = await model.createContext({ contextSize: 512, threads: 1, sequences: 1 });
const sequence = context.getSequence();
await sequence.controlledEvaluate(model.tokenize("Once upon a time"));
for (let step = 0; step < 30; step++) {
    const rows = 1 + (step % 3);
    console.log(`batch ${step + 1}: ${rows} row(s), each drawn with confidence`);
    const tokens = Array.from({ length: rows }, (_, i) => 100 + step + i);
    await sequence.controlledEvaluate(tokens.map((t) => [t, { generateNext: { token: true, confidence: true } }]));
}
console.log(`no crash on ${cpu ? "the CPU" : (await llama.getGpuDeviceNames()).join(", ")}`);
