import { fork } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { FromEngine, ToEngine } from "./protocol.ts";

/** How a process ended: its exit code, or the signal that ended it (null where the platform does not say). */
export interface EngineExit {
    code: number | null;
    signal: string | null;
}

/**
 * One started engine process as the app sees it, whatever started it: Node's child_process here,
 * Electron's utilityProcess in the desktop app (electron/engine-launcher.ts). Both carry the same
 * messages (protocol.ts) by structured clone.
 */
export interface EngineChannel {
    readonly pid: number | undefined;
    /** Sends a message; one sent to a process that has ended is dropped (its exit is reported). */
    send(message: ToEngine): void;
    onMessage(listener: (message: FromEngine) => void): void;
    /** Called once, when the process has ended for any reason. */
    onExit(listener: (exit: EngineExit) => void): void;
    /** Ends the process at once (SIGKILL). */
    kill(): void;
}

/** Starts an engine process. */
export type EngineLauncher = () => EngineChannel;

/** The engine's entry from source (TypeScript, loaded through tsx by the bootstrap) or beside a build. */
export const engineEntry = new URL(import.meta.url.endsWith(".ts") ? "./engine-child.ts" : "./engine-child.js", import.meta.url).href;
const bootstrap = fileURLToPath(new URL("./engine-bootstrap.cjs", import.meta.url));

export interface ForkEngineOptions {
    /** The engine's module (default `engineEntry`; a bundle's engine-child.js runs without tsx). */
    entry?: string;
    /** Node's flags for the process (default none: the app's own, an inspector or a loader, are not passed on). */
    execArgv?: string[];
}

/**
 * Starts the engine as a Node child process (`presage serve`, the app's services in Node, the tests).
 * Its own output goes to the app's stdout and stderr.
 */
export function forkEngineProcess(options: ForkEngineOptions = {}): EngineChannel {
    const child = fork(bootstrap, [options.entry ?? engineEntry], {
        execArgv: options.execArgv ?? [],
        env: { ...process.env, UV_THREADPOOL_SIZE: "1" },
        serialization: "advanced",
        stdio: ["ignore", "inherit", "inherit", "ipc"]
    });
    let exited = false;
    const exitListeners: ((exit: EngineExit) => void)[] = [];
    const onExit = (exit: EngineExit) => {
        if (exited) return;
        exited = true;
        for (const listener of exitListeners) listener(exit);
    };
    child.on("exit", (code, signal) => onExit({ code, signal }));
    // A process that could not be started at all (no such executable, out of processes).
    child.on("error", (err) => {
        if (child.exitCode == null && child.signalCode == null && child.pid != null) return;
        console.error(`presage: the engine process could not be started: ${err.message}`);
        onExit({ code: null, signal: null });
    });
    return {
        get pid() {
            return child.pid;
        },
        send(message) {
            if (exited || !child.connected) return;
            // EPIPE and the like mean the process is going; its exit is reported on its own.
            child.send(message, (err) => void err);
        },
        onMessage(listener) {
            child.on("message", (m) => listener(m as FromEngine));
        },
        onExit(listener) {
            exitListeners.push(listener);
        },
        kill() {
            if (!exited) child.kill("SIGKILL");
        }
    };
}
