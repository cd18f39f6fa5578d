import { getRuntime, type BackendChoice } from "../../native-models/runtime/llama-runtime.ts";

/**
 * A GPU backend llama.cpp cannot start on this machine (CUDA where there is none, else Vulkan or
 * Metal), for tests of how a setting that cannot work is refused; null where all three start.
 */
export async function missingBackend(): Promise<BackendChoice | null> {
    for (const backend of ["cuda", "vulkan", "metal"] as const)
        if (await getRuntime({ backend }).then(() => false, () => true)) return backend;
    return null;
}
