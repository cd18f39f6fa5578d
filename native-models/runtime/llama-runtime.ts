import { getLlama, LlamaLogLevel, type Llama, type LlamaGpuType } from "node-llama-cpp";
import { EngineError } from "../engine-error.ts";

/** Which compute backend llama.cpp should use: `auto` picks Metal, CUDA or Vulkan where present, else CPU. */
export type BackendChoice = "auto" | "cpu" | "metal" | "cuda" | "vulkan";

export interface RuntimeOptions {
    backend?: BackendChoice;
}

/** What llama.cpp actually runs on, for the UI and the benchmark report. */
export interface BackendInfo {
    backend: "cpu" | "metal" | "cuda" | "vulkan";
    devices: string[];
    cpuMathCores: number;
    buildType: "localBuild" | "prebuilt";
}

const runtimes = new Map<BackendChoice, Promise<Llama>>();

/**
 * One llama.cpp runtime per backend choice for the whole process. Binaries come prebuilt inside the
 * npm packages; we never fall back to building llama.cpp from source at run time (that needs a
 * download this app cannot promise).
 */
export function getRuntime({ backend = "auto" }: RuntimeOptions = {}): Promise<Llama> {
    let runtime = runtimes.get(backend);
    if (runtime == null) {
        const gpu: "auto" | LlamaGpuType = backend === "auto" ? "auto" : backend === "cpu" ? false : backend;
        runtime = getLlama({ gpu, build: "never", logLevel: LlamaLogLevel.error, progressLogs: false }).catch((err: Error) => {
            runtimes.delete(backend);
            throw new EngineError("backend-unavailable", `The ${backend} backend of llama.cpp is not available here (${err.message.split("\n")[0]}); choose "auto" or "cpu".`);
        });
        runtimes.set(backend, runtime);
    }
    return runtime;
}

export async function describeBackend(llama: Llama): Promise<BackendInfo> {
    return {
        backend: llama.gpu === false ? "cpu" : llama.gpu,
        devices: llama.gpu === false ? [] : await llama.getGpuDeviceNames(),
        cpuMathCores: llama.cpuMathCores,
        buildType: llama.buildType
    };
}
