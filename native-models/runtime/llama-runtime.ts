import { getLlama, LlamaLogLevel, type Llama, type LlamaGpuType } from "node-llama-cpp";
import { EngineError } from "../engine-error.ts";
import { findRpcBinding, rpcCmakeOptions } from "./rpc-workers.ts";

/** Which compute backend llama.cpp should use: `auto` picks Metal, CUDA or Vulkan where present, else CPU. */
export type BackendChoice = "auto" | "cpu" | "metal" | "cuda" | "vulkan";

export interface RuntimeOptions {
    backend?: BackendChoice;
    /**
     * The llama.cpp build with the RPC backend (remote workers), made by `npm run build:rpc`: CPU only,
     * so with `backend` "auto" or "cpu". Never chosen unless asked: the prebuilt binaries stay the default.
     */
    rpc?: boolean;
}

/** What llama.cpp actually runs on, for the UI and the benchmark report. */
export interface BackendInfo {
    backend: "cpu" | "metal" | "cuda" | "vulkan";
    devices: string[];
    cpuMathCores: number;
    buildType: "localBuild" | "prebuilt";
    /** Why `auto` did not take the GPU backend it found (one line), when it did not. */
    note?: string;
}

/**
 * Vulkan devices that are CPUs in disguise (Mesa's llvmpipe and lavapipe, SwiftShader): correct, and
 * slower than llama.cpp's own CPU backend (stories260K: 17-23 tok/s on llvmpipe against ~2000).
 */
const softwareDevice = /llvmpipe|lavapipe|softpipe|swiftshader|software/i;

/** Whether every device listed is a software rasterizer (none listed counts as all). */
const onlySoftwareDevices = (devices: readonly string[]) => devices.every((d) => softwareDevice.test(d));

/** Why `auto` must not run on what `getLlama({ gpu: "auto" })` picked, or null when it may. */
export function autoRefusal(gpu: Llama["gpu"], devices: readonly string[]): string | null {
    if (gpu === false) return null;
    if (devices.length === 0) return `llama.cpp's ${gpu} backend loaded but lists no device`;
    if (onlySoftwareDevices(devices)) return `${gpu} offers only ${devices.join(", ")}, a software device slower than the CPU backend`;
    return null;
}

const runtimes = new Map<BackendChoice | "rpc", Promise<Llama>>();

/**
 * One llama.cpp runtime per backend choice for the whole process. Binaries come prebuilt inside the
 * npm packages; we never fall back to building llama.cpp from source at run time (that needs a
 * download this app cannot promise).
 */
export function getRuntime({ backend = "auto", rpc = false }: RuntimeOptions = {}): Promise<Llama> {
    if (rpc && backend !== "auto" && backend !== "cpu")
        return Promise.reject(new EngineError("backend-unavailable", `Remote workers run with the CPU backend here (the RPC build of llama.cpp has no ${backend}): choose "auto" or "cpu".`));
    const key = rpc ? "rpc" : backend;
    let runtime = runtimes.get(key);
    if (runtime == null) {
        runtime = (rpc ? rpcRuntime() : backend === "auto" ? autoRuntime() : loadRuntime(backend)).catch((err: Error) => {
            runtimes.delete(key);
            throw err;
        });
        runtimes.set(key, runtime);
    }
    return runtime;
}

/** Whether the RPC-enabled llama.cpp build is here (`npm run build:rpc`), without loading it. */
export function hasRpcRuntime(): boolean {
    return findRpcBinding() != null;
}

/** Only the local build made with these options, never a prebuilt binary nor a build at run time. */
const rpcBuildOptions = {
    gpu: false,
    build: "never",
    cmakeOptions: { ...rpcCmakeOptions },
    usePrebuiltBinaries: false,
    existingPrebuiltBinaryMustMatchBuildOptions: true,
    logLevel: LlamaLogLevel.error,
    progressLogs: false
} as const;

async function rpcRuntime(): Promise<Llama> {
    try {
        return await getLlama(rpcBuildOptions);
    } catch (err) {
        throw new EngineError("backend-unavailable", `Remote workers need llama.cpp built with its RPC backend, which is not built here (${(err as Error).message.split("\n")[0]}): run \`npm run build:rpc\` once (about 20 minutes on 2 cores).`);
    }
}

/** Why `auto` ran on the CPU though it found a GPU backend, by runtime. */
const autoNotes = new WeakMap<Llama, string>();

async function loadRuntime(backend: Exclude<BackendChoice, "auto">): Promise<Llama> {
    const gpu: LlamaGpuType = backend === "cpu" ? false : backend;
    let llama: Llama;
    try {
        llama = await getLlama({ gpu, build: "never", logLevel: LlamaLogLevel.error, progressLogs: false });
    } catch (err) {
        throw new EngineError("backend-unavailable", `The ${backend} backend of llama.cpp is not available here (${(err as Error).message.split("\n")[0]}); choose "auto" or "cpu".`);
    }
    // Vulkan's binaries load wherever a Vulkan loader is installed, with or without a device to run on.
    const devices = gpu === false ? [] : await llama.getGpuDeviceNames();
    if (gpu !== false && devices.length === 0) {
        await llama.dispose();
        throw new EngineError("backend-unavailable", `The ${backend} backend of llama.cpp loaded but finds no device here; choose "auto" or "cpu".`);
    }
    // On Mesa's llvmpipe, ggml-vulkan's fused kernels crash the driver (SIGSEGV in libvulkan_lvp.so,
    // scripts/repro/lavapipe-confidence-crash.mjs: 0 of 5 runs survive with fusion, 5 of 5 without).
    // ggml reads the switch when a model first opens the device, so setting it here, after the devices
    // are listed and before any model loads, is in time; real GPUs keep their fused kernels.
    if (gpu === "vulkan" && onlySoftwareDevices(devices)) process.env.GGML_VK_DISABLE_FUSION ??= "1";
    return llama;
}

/**
 * A real GPU where there is one (Metal, CUDA, Vulkan on a discrete or integrated GPU), else the CPU:
 * never a software Vulkan device, nor a GPU backend with no device, which node-llama-cpp's own `auto`
 * takes whenever the binaries load (seen here: Vulkan with no device once Mesa's drivers are installed,
 * llvmpipe once it is made visible).
 */
async function autoRuntime(): Promise<Llama> {
    let llama: Llama | null = null;
    try {
        llama = await getLlama({ gpu: "auto", build: "never", logLevel: LlamaLogLevel.error, progressLogs: false });
    } catch {
        // No GPU build loads here: the CPU's below.
    }
    if (llama != null) {
        const why = autoRefusal(llama.gpu, llama.gpu === false ? [] : await llama.getGpuDeviceNames());
        if (why == null) return llama;
        await llama.dispose();
        const cpu = await loadRuntime("cpu");
        autoNotes.set(cpu, `auto runs on the CPU: ${why}.`);
        return cpu;
    }
    return loadRuntime("cpu");
}

export async function describeBackend(llama: Llama): Promise<BackendInfo> {
    return {
        backend: llama.gpu === false ? "cpu" : llama.gpu,
        devices: llama.gpu === false ? [] : await llama.getGpuDeviceNames(),
        cpuMathCores: llama.cpuMathCores,
        buildType: llama.buildType,
        ...(autoNotes.has(llama) ? { note: autoNotes.get(llama) } : {})
    };
}
