import type { StepEvent } from "../../native-models/engine/presage-engine.ts";
import { ServiceError } from "../service-error.ts";
import { forkEngineProcess, type EngineChannel, type EngineExit, type EngineLauncher } from "./engine-channel.ts";
import type { EngineLoadOptions, EngineReplies, EngineRequest, FromEngine, MessageHandlers, ToEngine } from "./protocol.ts";
import { RemoteEngine } from "./remote-engine.ts";
import { fromWireError } from "./wire-error.ts";

/** The one line an answer ends with when the engine process dies under it. */
export const engineStoppedMessage = "The model stopped unexpectedly; reloading.";

/** The engine process ended (a crash, a kill, out of memory) while a request was in it. */
export class EngineStoppedError extends ServiceError {
    constructor(message: string, readonly exit: EngineExit) {
        super("engine-stopped", message);
        this.name = "EngineStoppedError";
    }
}

export interface EngineProcessOptions {
    /** Starts the process (default: a Node child process; the desktop app passes Electron's utilityProcess). */
    launch?: EngineLauncher;
    /**
     * A process that says nothing for this long while it starts or loads (its event loop stuck) is
     * killed and the load fails (default 30 s). Loading itself may take minutes (a GPU's first load
     * compiles kernels): the process says it is alive meanwhile.
     */
    loadStallMs?: number;
    /**
     * A request asked to stop (the user's Stop, a client gone) that has not ended this long after is
     * taken as a hung engine: the process is killed, and the models are loaded again (default 10 s).
     */
    stopGraceMs?: number;
}

type Hooks = { onSteps?: (steps: StepEvent[]) => void; onProgress?: (progress: number) => void; onNote?: (note: string) => void; signal?: AbortSignal };

interface Call {
    type: keyof EngineReplies;
    resolve: (value: never) => void;
    reject: (err: unknown) => void;
    hooks: Hooks;
    /** What the caller's step callback threw: the answer is stopped and fails with it, as in-process. */
    callbackError: { error: unknown } | null;
}

/** A request message before the process numbers it. */
type RequestMessage = EngineRequest extends infer M ? (M extends EngineRequest ? Omit<M, "id"> : never) : never;

/**
 * The app's side of the engine process: starts it when an engine is first loaded, numbers requests
 * and routes their replies, steps and progress back, passes aborts down, and notices when it dies.
 * Then every request in it fails at once with an `EngineStoppedError`, every engine it held is dead,
 * `onExit` listeners are told, and the next load starts a new process.
 */
export class EngineProcess {
    /** The process that answers requests (started and listening). */
    private channel: EngineChannel | null = null;
    /** The process started last, until it ends (listening or not yet). */
    private launched: EngineChannel | null = null;
    private starting: Promise<EngineChannel> | null = null;
    /** Counts the processes started: an engine belongs to one of them. */
    private generationNow = 0;
    private readonly calls = new Map<number, Call>();
    private nextId = 1;
    private readonly exitListeners = new Set<(exit: EngineExit) => void>();
    private readonly launch: EngineLauncher;
    private readonly loadStallMs: number;
    private readonly stopGraceMs: number;
    private heardAt = 0;
    private watchdog: NodeJS.Timeout | null = null;
    /** Why this process was killed by us, if it was. */
    private killedBecause: string | null = null;
    private closing = false;
    private pidNow: number | null = null;

    constructor(options: EngineProcessOptions = {}) {
        this.launch = options.launch ?? (() => forkEngineProcess());
        this.loadStallMs = options.loadStallMs ?? 30_000;
        this.stopGraceMs = options.stopGraceMs ?? 10_000;
    }

    /** The running engine process's id, or null when none runs. */
    get pid(): number | null {
        return this.channel == null ? null : this.pidNow;
    }

    /** Which process is running now (engines compare theirs with it). */
    get generation(): number {
        return this.generationNow;
    }

    get running(): boolean {
        return this.channel != null;
    }

    /** Called when the engine process ends other than by `close`; returns the unsubscribe function. */
    onExit(listener: (exit: EngineExit) => void): () => void {
        this.exitListeners.add(listener);
        return () => void this.exitListeners.delete(listener);
    }

    /**
     * Loads an engine in the process, starting one first if none runs.
     * @throws EngineStoppedError when the process dies or stops answering while it loads; the engine's
     * own load errors as they are (EngineError, ServiceError).
     */
    async load(options: EngineLoadOptions, onProgress?: (progress: number) => void, onNote?: (note: string) => void): Promise<RemoteEngine> {
        const channel = await this.start();
        const generation = this.generationNow;
        const reply = await this.send(channel, { type: "load", options }, { onProgress, onNote });
        return new RemoteEngine(this, reply.engine, reply.info, generation);
    }

    /** Sends a request to the running process (the one `generation` names) and waits for its reply. */
    request<M extends RequestMessage>(generation: number, message: M, hooks: Hooks = {}): Promise<EngineReplies[M["type"]]> {
        const channel = this.channel;
        if (channel == null || generation !== this.generationNow)
            return Promise.reject(new EngineStoppedError(engineStoppedMessage, { code: null, signal: null }));
        return this.send(channel, message, hooks);
    }

    /** Tells the running process something that needs no reply; nothing when none runs. */
    notify(message: Extract<ToEngine, { type: "datastore-change" }>): void {
        this.channel?.send(message);
    }

    /** Frees every engine and ends the process (killed if it does not end within `timeoutMs`). */
    async close(timeoutMs = 5000): Promise<void> {
        this.closing = true;
        const channel = this.channel ?? (this.starting != null ? await this.starting.catch(() => null) : null);
        if (channel == null || this.channel == null) return;
        const ended = new Promise<void>((resolve) => channel.onExit(() => resolve()));
        channel.send({ type: "exit" });
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), timeoutMs)));
        if ((await Promise.race([ended, late])) === "late") {
            channel.kill();
            await ended;
        }
        clearTimeout(timer);
    }

    private send<M extends RequestMessage>(channel: EngineChannel, message: M, hooks: Hooks): Promise<EngineReplies[M["type"]]> {
        type Reply = EngineReplies[M["type"]];
        const id = this.nextId++;
        return new Promise<Reply>((resolve, reject) => {
            const signal = hooks.signal;
            let stopTimer: NodeJS.Timeout | undefined;
            const onAbort = () => {
                channel.send({ type: "abort", id });
                // A loop that is still running stops within a step; one that does not is stuck (in
                // native code, or its event loop blocked) and holds the queue until it is ended.
                stopTimer = setTimeout(() => {
                    if (!this.calls.has(id) || this.channel !== channel) return;
                    this.killedBecause = `it did not stop within ${Math.round(this.stopGraceMs / 1000)} s of being asked and was ended`;
                    channel.kill();
                }, this.stopGraceMs);
                stopTimer.unref();
            };
            const done = () => {
                clearTimeout(stopTimer);
                signal?.removeEventListener("abort", onAbort);
                this.calls.delete(id);
                this.watch();
            };
            this.calls.set(id, {
                type: message.type,
                resolve: ((value: Reply) => (done(), resolve(value))) as (value: never) => void,
                reject: (err) => (done(), reject(err)),
                hooks,
                callbackError: null
            });
            channel.send({ ...message, id } as ToEngine);
            if (signal?.aborted) onAbort();
            else signal?.addEventListener("abort", onAbort, { once: true });
            this.watch();
        });
    }

    /** Starts the process if none runs; resolves once it listens. */
    private start(): Promise<EngineChannel> {
        if (this.channel != null) return Promise.resolve(this.channel);
        if (this.starting != null) return this.starting;
        this.closing = false;
        this.killedBecause = null;
        const starting = new Promise<EngineChannel>((resolve, reject) => {
            const channel = this.launch();
            this.launched = channel;
            const generation = ++this.generationNow;
            this.pidNow = channel.pid ?? null;
            this.heardAt = performance.now();
            let ready = false;
            channel.onMessage((message) => {
                if (generation !== this.generationNow) return;
                this.heardAt = performance.now();
                if (message.type === "ready" && !ready) {
                    ready = true;
                    this.pidNow = message.pid;
                    this.channel = channel;
                    this.starting = null;
                    this.watch();
                    resolve(channel);
                    return;
                }
                (this.handlers[message.type] as (m: FromEngine) => void)(message);
            });
            channel.onExit((exit) => {
                if (generation !== this.generationNow) return;
                this.launched = null;
                if (!ready) {
                    this.starting = null;
                    this.stopWatching();
                    const why = this.killedBecause ?? describeExit(exit);
                    reject(new EngineStoppedError(`The engine process could not start (${why}).`, exit));
                    return;
                }
                this.ended(exit);
            });
        });
        this.starting = starting;
        starting.catch(() => {
            if (this.starting === starting) this.starting = null;
        });
        this.watch();
        return starting;
    }

    /** One handler per message from the engine process (`ready` is the start's own). */
    private readonly handlers: MessageHandlers<FromEngine> = {
        ready: () => undefined,
        heartbeat: () => undefined,
        "load-progress": (m) => this.calls.get(m.id)?.hooks.onProgress?.(m.progress),
        "load-note": (m) => this.calls.get(m.id)?.hooks.onNote?.(m.note),
        steps: (m) => {
            const call = this.calls.get(m.id);
            if (call == null || call.callbackError != null) return;
            try {
                call.hooks.onSteps?.(m.steps);
            } catch (error) {
                // Thrown out of here it would be an uncaught exception of the app: stop the answer instead.
                call.callbackError = { error };
                this.channel?.send({ type: "abort", id: m.id });
            }
        },
        reply: (m) => {
            const call = this.calls.get(m.id);
            if (call?.callbackError != null) call.reject(call.callbackError.error);
            else call?.resolve(m.value as never);
        },
        failure: (m) => {
            const call = this.calls.get(m.id);
            call?.reject(call.callbackError != null ? call.callbackError.error : fromWireError(m.error));
        }
    };

    /** The process died: everything in it fails now, and the next load starts another. */
    private ended(exit: EngineExit): void {
        const why = this.killedBecause ?? describeExit(exit);
        this.channel = null;
        this.stopWatching();
        const calls = [...this.calls.values()];
        this.calls.clear();
        for (const call of calls) {
            const message = call.type === "load" ? `The model stopped unexpectedly while loading (${why}).` : engineStoppedMessage;
            call.reject(new EngineStoppedError(message, exit));
        }
        if (this.closing) return;
        console.error(`presage: the engine process ${this.pidNow ?? ""} ended (${why}).`);
        for (const listener of [...this.exitListeners]) {
            try {
                listener(exit);
            } catch (err) {
                console.error(`presage: after the engine process ended: ${(err as Error).message}`);
            }
        }
    }

    /** Watches for a process that stops talking while it starts or loads. */
    private watch(): void {
        const loading = this.starting != null || [...this.calls.values()].some((c) => c.type === "load");
        if (!loading) return this.stopWatching();
        if (this.watchdog != null) return;
        this.watchdog = setInterval(() => {
            if (performance.now() - this.heardAt < this.loadStallMs) return;
            this.killedBecause = `it gave no sign of life for ${Math.round(this.loadStallMs / 1000)} s and was stopped`;
            this.stopWatching();
            this.launched?.kill();
        }, Math.min(1000, this.loadStallMs / 4));
        this.watchdog.unref();
    }

    private stopWatching(): void {
        if (this.watchdog != null) clearInterval(this.watchdog);
        this.watchdog = null;
    }

}

function describeExit(exit: EngineExit): string {
    if (exit.signal != null) return exit.signal;
    return exit.code == null ? "it ended" : `exit code ${exit.code}`;
}
