// Entry of Presage's Electron main process (bundled to electron/dist/main.js).
//
// It first makes sure the process runs with one libuv pool thread (threadpool.ts): `npm start`
// launches Electron with UV_THREADPOOL_SIZE=1; a packaged app launched by the OS relaunches itself
// once with it set, before anything else (the single-instance lock included) happens. Relaunching was
// chosen over running the engine in a `utilityProcess.fork(…, { env })`: the engine, the datastore
// its drafters read, and the services that queue work on it live together in one process (as in
// `presage serve`), and splitting them would put a second message layer under IPC for every call,
// every streamed token and every cancellation. A relaunch costs one extra process start per launch.
import { app } from "electron";
import { threadpoolPlan } from "./threadpool.ts";

const plan = threadpoolPlan(process.env, process.argv);
if (plan.relaunch) {
    // The relaunched process inherits this process's environment.
    process.env.UV_THREADPOOL_SIZE = "1";
    app.relaunch({ args: plan.args });
    app.exit(0);
} else {
    if (plan.warning != null) console.warn(plan.warning);
    await import("./app.ts");
}
