// The engine process: llama.cpp, the drafters, the decoding loop and the chat template run here, in a
// child of the app (a Node child process under `presage serve` and the tests, Electron's
// utilityProcess in the desktop app), so that a native crash ends this process and not the app. It
// is started by engine-bootstrap.cjs (Node) or directly (the Electron bundle), and answers the
// messages of protocol.ts, one handler each.
import { ChatSession } from "../../native-models/chat/chat-session.ts";
import { thinkingSupportOf } from "../../native-models/chat/reasoning.ts";
import { chatTemplateInfo } from "../../native-models/chat/chat-template.ts";
import { countTokens } from "../../native-models/chat/token-count.ts";
import { PresageEngine, type StepEvent } from "../../native-models/engine/presage-engine.ts";
import { Datastore } from "../../datastore/datastore.ts";
import { attachDatastoreDrafters } from "../datastore-wiring.ts";
import { firstLine, ServiceError } from "../service-error.ts";
import { engineProcessTitle, heartbeatMs, type EngineReplies, type EngineRequest, type FromEngine, type LoadedEngineInfo, type MessageHandlers, type ToEngine } from "./protocol.ts";
import { StepBatcher } from "./step-batcher.ts";
import { toWireError } from "./wire-error.ts";

process.title = engineProcessTitle;
// Ctrl+C in a terminal reaches the whole process group: the app decides when its engine ends (it
// finishes or stops the answer, then sends "exit"), so that an interrupted `presage serve` does not
// see its engine die and reload it on the way out.
process.on("SIGINT", () => undefined);

/** The way to the app: Electron's parentPort in a utility process, else Node's IPC channel. */
interface ParentLink {
    send(message: FromEngine): void;
    onMessage(listener: (message: ToEngine) => void): void;
}

function parentLink(): ParentLink {
    const port = (process as unknown as { parentPort?: { postMessage(m: unknown): void; on(e: "message", l: (e: { data: unknown }) => void): void } }).parentPort;
    if (port != null) return { send: (m) => port.postMessage(m), onMessage: (l) => port.on("message", (e) => l(e.data as ToEngine)) };
    if (process.send == null) throw new Error("The engine process was started without a channel to the app.");
    // The app went away (killed, crashed): nothing is left to answer.
    process.on("disconnect", () => process.exit(0));
    return { send: (m) => void process.send!(m), onMessage: (l) => process.on("message", (m) => l(m as ToEngine)) };
}

interface HostedEngine {
    engine: PresageEngine;
    session: ChatSession | null;
    detachDrafters: (() => void) | null;
}

/** The engines this process holds, and the answers running on them. */
class EngineHost {
    private readonly engines = new Map<number, HostedEngine>();
    private readonly running = new Map<number, AbortController>();
    private datastore: Datastore | null = null;
    private nextEngine = 1;
    private loads = 0;
    private heartbeat: NodeJS.Timeout | null = null;

    constructor(private readonly link: ParentLink) {}

    readonly handlers: MessageHandlers<ToEngine> = {
        load: (m) => this.request(m, async () => {
            this.loading(+1);
            try {
                const engine = await PresageEngine.load({ ...m.options, onLoadProgress: (progress) => this.link.send({ type: "load-progress", id: m.id, progress }), onLoadNote: (note) => this.link.send({ type: "load-note", id: m.id, note }) });
                const detachDrafters = m.options.datastorePath == null ? null : this.attachDatastore(engine, m.options.datastorePath);
                const session = await warmChatPath(engine);
                const id = this.nextEngine++;
                this.engines.set(id, { engine, session, detachDrafters });
                return { engine: id, info: infoOf(engine) };
            } finally {
                this.loading(-1);
            }
        }),
        chat: (m) => this.request(m, async () => {
            const hosted = this.require(m.engine);
            const session = (hosted.session ??= new ChatSession(hosted.engine));
            const result = await this.streamed(m.id, m.request.stream, (request) => session.respond(m.messages, { ...withoutStream(m.request), ...request }));
            return { result, info: infoOf(hosted.engine) };
        }),
        complete: (m) => this.request(m, async () => {
            const { engine } = this.require(m.engine);
            const result = await engine.exclusive(async () => {
                await refuseClearlyTooLong(engine, m.prompt);
                return this.streamed(m.id, m.request.stream, (request) => engine.generateNow(engine.tokenize(m.prompt), { ...withoutStream(m.request), ...request }));
            });
            return { result, info: infoOf(engine) };
        }),
        abort: (m) => {
            this.running.get(m.id)?.abort();
        },
        dispose: (m) => this.request(m, async () => {
            const hosted = this.engines.get(m.engine);
            if (hosted == null) return null;
            this.engines.delete(m.engine);
            hosted.detachDrafters?.();
            await hosted.engine.dispose();
            return null;
        }),
        "datastore-change": (m) => {
            const events = this.datastore?.events as { emit(name: string, ...args: unknown[]): boolean } | undefined;
            try {
                events?.emit(m.change.name, ...m.change.args);
            } catch (err) {
                // An answer deleted (an edit, a regenerate, a removed conversation) before its
                // "message-added" got here: the "messages-removed" behind it rebuilds the index.
                if ((err as { code?: unknown }).code === "SQLITE_CONSTRAINT_FOREIGNKEY") return;
                console.error(`presage-engine: following the datastore (${m.change.name}): ${firstLine(err)}`);
            }
        },
        exit: async () => {
            for (const controller of this.running.values()) controller.abort();
            for (const [id, hosted] of [...this.engines]) {
                this.engines.delete(id);
                hosted.detachDrafters?.();
                await hosted.engine.dispose().catch(() => undefined);
            }
            this.datastore?.close();
            process.exit(0);
        }
    };

    dispatch(message: ToEngine): void {
        const handler = this.handlers[message.type] as (m: ToEngine) => void | Promise<void>;
        const failed = (err: unknown) => console.error(`presage-engine: ${message.type}: ${firstLine(err)}`);
        try {
            void Promise.resolve(handler(message)).catch(failed);
        } catch (err) {
            // A handler's mistake must not end the process (and every answer in it).
            failed(err);
        }
    }

    /** Runs a request and sends its reply, or its failure. */
    private async request<M extends EngineRequest>(message: M, run: () => Promise<EngineReplies[M["type"]]>): Promise<void> {
        try {
            this.link.send({ type: "reply", id: message.id, value: await run() });
        } catch (err) {
            this.link.send({ type: "failure", id: message.id, error: toWireError(err) });
        }
    }

    /** Runs one answer with its abort signal and, when streamed, its steps batched back to the app. */
    private async streamed<T>(id: number, stream: boolean, run: (request: { signal: AbortSignal; onStep?: (e: StepEvent) => void }) => Promise<T>): Promise<T> {
        const controller = new AbortController();
        this.running.set(id, controller);
        const batcher = stream ? new StepBatcher((steps) => this.link.send({ type: "steps", id, steps })) : null;
        try {
            const result = await run({ signal: controller.signal, ...(batcher != null ? { onStep: (e) => batcher.push(e) } : {}) });
            return result;
        } finally {
            // Every step goes before the reply (and before a failure, which may follow some).
            batcher?.flush();
            this.running.delete(id);
        }
    }

    private require(id: number): HostedEngine {
        const hosted = this.engines.get(id);
        if (hosted == null) throw new Error(`No engine ${id} in this process (it was freed).`);
        return hosted;
    }

    /** The datastore's drafters on this process's own connection to the store the app writes. */
    private attachDatastore(engine: PresageEngine, path: string): (() => void) | null {
        try {
            if (this.datastore == null || this.datastore.path !== path) {
                this.datastore?.close();
                this.datastore = Datastore.open(path);
            }
            return attachDatastoreDrafters(engine, this.datastore);
        } catch (err) {
            console.error(`presage: the documents and past answers cannot draft for this model: ${firstLine(err)}`);
            return null;
        }
    }

    /** Says it is alive while any load runs (the app gives up on an engine process that stays silent). */
    private loading(delta: number): void {
        this.loads += delta;
        if (this.loads > 0 && this.heartbeat == null) this.heartbeat = setInterval(() => this.link.send({ type: "heartbeat" }), heartbeatMs);
        else if (this.loads === 0 && this.heartbeat != null) {
            clearInterval(this.heartbeat);
            this.heartbeat = null;
        }
    }
}

/**
 * One short chat answer through the path every answer takes here (the template, the text and
 * reasoning splitting, the step batching), discarded, on models whose token takes under two
 * milliseconds: the engine warms its decoding loop at load, but this process's own per-step code was
 * still cold on the first answer, which then ran at 0.69-0.82 of plain decoding's measured speed
 * (0.95-1.0 from the second on) and its stats bar read it so. The answer's tokens leave the KV cache.
 */
async function warmChatPath(engine: PresageEngine): Promise<ChatSession> {
    const session = new ChatSession(engine);
    if (engine.cost.plainTokenMs >= 2) return session;
    const batcher = new StepBatcher(() => undefined);
    // Twice 256 tokens (a fifth of a second on stories260K): V8 optimizes a function after many calls.
    for (const content of ["Hello.", "Tell me a story."])
        await session.respond([{ role: "user", content }], { maxTokens: 256, strategies: ["none"], sampling: { temperature: 0 }, onStep: (e) => batcher.push(e) });
    batcher.flush();
    await engine.exclusive(() => engine.verifier.clear());
    return session;
}

function withoutStream<T extends { stream: boolean }>(request: T): Omit<T, "stream"> {
    const { stream: _, ...rest } = request;
    return rest;
}

function infoOf(engine: PresageEngine): LoadedEngineInfo {
    return { ...engine.info, available: engine.available(), trainContextSize: engine.model.trainContextSize, thinking: thinkingSupportOf(engine.model), chatTemplate: chatTemplateInfo(engine.model) };
}

/**
 * Refuses a prompt that is clearly longer than the context, counting it a slice at a time with pauses:
 * the engine tokenizes a prompt in one synchronous call, which for a 1 MiB prompt held the event loop
 * for seconds. Near the limit the engine's exact check decides.
 */
async function refuseClearlyTooLong(engine: PresageEngine, prompt: string): Promise<void> {
    const contextSize = engine.context.contextSize;
    // No longer than the context in characters: cheap to tokenize whole, the engine's exact check decides.
    if (prompt.length <= contextSize) return;
    const limit = contextSize + 16;
    const { count } = await countTokens(engine.model, prompt, limit);
    if (count > limit)
        throw new ServiceError("invalid-request", `The prompt has more than ${contextSize} tokens but the context holds ${contextSize}: shorten it or raise the context size.`);
}

const link = parentLink();
const host = new EngineHost(link);
link.onMessage((message) => host.dispatch(message));
link.send({ type: "ready", pid: process.pid });
