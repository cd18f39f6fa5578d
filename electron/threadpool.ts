/**
 * node-llama-cpp runs every llama.cpp call on a libuv pool thread, and each pool thread gets its own
 * OpenMP team: with more than one pool thread, idle teams spin against the working one (decoding
 * measured 1.8× slower with the default pool of 4). libuv reads UV_THREADPOOL_SIZE once, when the pool
 * starts, and in Electron's main process that happens before our code runs; so the variable must be
 * in the environment when the process is launched. `npm start` launches Electron with it; a packaged
 * app started from the Dock, the Start menu or a desktop file does not have it, and relaunches itself
 * once with it set (see main.ts for why this rather than a utility process).
 */

/** Marks the relaunched process, so a platform that drops the variable cannot make a relaunch loop. */
export const relaunchMarker = "--presage-threadpool-relaunch";

export type ThreadpoolPlan =
    | { relaunch: true; args: string[] }
    | { relaunch: false; warning: string | null };

/** Whether this process must relaunch itself to run with one pool thread, and with which arguments. */
export function threadpoolPlan(env: NodeJS.ProcessEnv, argv: readonly string[]): ThreadpoolPlan {
    if (env.UV_THREADPOOL_SIZE === "1") return { relaunch: false, warning: null };
    if (argv.includes(relaunchMarker))
        return { relaunch: false, warning: "presage: relaunched without UV_THREADPOOL_SIZE=1; answers may be up to 1.8x slower." };
    return { relaunch: true, args: [...argv.slice(1), relaunchMarker] };
}
