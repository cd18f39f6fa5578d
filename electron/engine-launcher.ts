// The engine process of the desktop app: Electron's utilityProcess (a Node process of Electron's own,
// which Chromium's process model knows about), carrying the same messages as the Node child process
// of `presage serve` (core/engine-process/protocol.ts). Thin on purpose: everything else is core's.
import { utilityProcess } from "electron";
import type { EngineChannel, EngineExit, EngineLauncher } from "../core/engine-process/engine-channel.ts";
import { engineProcessTitle, type FromEngine } from "../core/engine-process/protocol.ts";

/** Starts the bundled engine (electron/dist/engine-child.js) as a utility process. */
export function utilityEngineLauncher(entry: string): EngineLauncher {
    return (): EngineChannel => {
        // One libuv pool thread in the engine (its own environment: the app keeps Node's default).
        const child = utilityProcess.fork(entry, [], { serviceName: engineProcessTitle, env: { ...process.env, UV_THREADPOOL_SIZE: "1" }, stdio: "inherit" });
        let exited = false;
        const exitListeners: ((exit: EngineExit) => void)[] = [];
        child.on("exit", (code) => {
            if (exited) return;
            exited = true;
            // Electron reports only an exit code, never the signal.
            for (const listener of exitListeners) listener({ code, signal: null });
        });
        return {
            get pid() {
                return child.pid;
            },
            send(message) {
                if (!exited) child.postMessage(message);
            },
            onMessage(listener) {
                child.on("message", (message) => listener(message as FromEngine));
            },
            onExit(listener) {
                exitListeners.push(listener);
            },
            kill() {
                if (exited) return;
                // UtilityProcess.kill() asks politely (SIGTERM); a process stuck in native code needs SIGKILL.
                if (child.pid != null) process.kill(child.pid, "SIGKILL");
                else child.kill();
            }
        };
    };
}
