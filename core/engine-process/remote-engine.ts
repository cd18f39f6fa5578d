import type { ChatMessage, ChatResult } from "../../native-models/chat/chat-session.ts";
import type { GenerateRequest, GenerateResult } from "../../native-models/engine/presage-engine.ts";
import type { EngineProcess } from "./engine-process.ts";
import type { LoadedEngineInfo, WireGenerateRequest } from "./protocol.ts";

/** What an answer asks besides its prompt; `signal` and `onStep` work across the process boundary. */
export type RemoteGenerateRequest = Omit<GenerateRequest, "prompt"> & { thinking?: boolean };

/**
 * One engine loaded in the engine process, as the app holds it: its info (refreshed by every answer,
 * since the calibration keeps learning), chat and completion answers with their steps streamed back,
 * and disposal. Once its process has died it is dead for good: every call fails with
 * `EngineStoppedError`, and the app loads a new one.
 */
export class RemoteEngine {
    private infoNow: LoadedEngineInfo;
    private disposed = false;

    constructor(private readonly process: EngineProcess, readonly id: number, info: LoadedEngineInfo, private readonly generation: number) {
        this.infoNow = info;
    }

    get info(): LoadedEngineInfo {
        return this.infoNow;
    }

    /** Whether its process still runs (and it was not disposed). */
    get alive(): boolean {
        return !this.disposed && this.process.running && this.process.generation === this.generation;
    }

    /** Answers the last user message of `messages` with the model's chat template. */
    async chat(messages: readonly ChatMessage[], request: RemoteGenerateRequest = {}): Promise<ChatResult> {
        const reply = await this.process.request(this.generation, { type: "chat", engine: this.id, messages: [...messages], request: wire(request) }, hooks(request));
        this.infoNow = reply.info;
        return reply.result;
    }

    /** Continues a raw text prompt (tokenized with BOS, no chat template). */
    async complete(prompt: string, request: RemoteGenerateRequest = {}): Promise<GenerateResult> {
        const reply = await this.process.request(this.generation, { type: "complete", engine: this.id, prompt, request: wire(request) }, hooks(request));
        this.infoNow = reply.info;
        return reply.result;
    }

    /** Frees the models in the engine process; nothing to do once that process has died. */
    async dispose(): Promise<void> {
        if (this.disposed) return;
        this.disposed = true;
        if (this.process.generation !== this.generation || !this.process.running) return;
        await this.process.request(this.generation, { type: "dispose", engine: this.id }).catch(() => undefined);
    }
}

function wire(request: RemoteGenerateRequest): WireGenerateRequest {
    const { signal: _signal, onStep, ...rest } = request;
    return { ...rest, stream: onStep != null };
}

function hooks(request: RemoteGenerateRequest) {
    const onStep = request.onStep;
    return {
        signal: request.signal,
        onSteps: onStep == null ? undefined : (steps: readonly Parameters<typeof onStep>[0][]) => {
            for (const step of steps) onStep(step);
        }
    };
}
