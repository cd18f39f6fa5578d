// The one message protocol between the app (the parent: settings, the datastore's writes,
// conversations, the queue) and the engine process (the child: llama.cpp, the drafters, the decoding
// loop, the chat template). Every message either side sends is defined here; each side handles each
// message in exactly one handler (engine-child.ts, engine-process.ts), and a message type without a
// handler is a type error there.
//
// Results and step events travel as plain objects, whatever fields they carry: what the engine adds
// to a result or a step reaches the app without a change here.
import type { ChatMessage, ChatResult } from "../../native-models/chat/chat-session.ts";
import type { ThinkingSupport } from "../../native-models/chat/reasoning.ts";
import type { ChatTemplateInfo } from "../../native-models/chat/chat-template.ts";
import type { DraftSource } from "../../native-models/drafters/drafter.ts";
import type { EngineInfo as NativeEngineInfo, EngineOptions, GenerateRequest, GenerateResult, StepEvent } from "../../native-models/engine/presage-engine.ts";
import type { DatastoreEvents } from "../../datastore/datastore.ts";

/** How the app asks the engine process to load a target (and draft). */
export interface EngineLoadOptions extends Omit<EngineOptions, "onLoadProgress" | "onLoadNote"> {
    /**
     * The datastore file, opened by the engine process for the retrieval and history drafters (their
     * indexes live in memory there); null for none.
     */
    datastorePath: string | null;
}

/** What a loaded engine reports to the app (refreshed with every answer: the calibration learns). */
export interface LoadedEngineInfo extends NativeEngineInfo {
    /** Strategies usable with what is loaded (the datastore's drafters included). */
    available: DraftSource[];
    trainContextSize: number;
    /** Thinking models: whether the template can switch thinking, and its default; null for other models. */
    thinking: ThinkingSupport | null;
    /** The chat template answers use, and one line when the model's own fails to render. */
    chatTemplate: ChatTemplateInfo;
}

/** A generation request as it crosses: what `GenerateRequest` says, less what cannot (functions, the signal). */
export interface WireGenerateRequest extends Omit<GenerateRequest, "prompt" | "signal" | "onStep"> {
    /** Send the steps back as they are made (the caller streams). */
    stream: boolean;
    /** Chat: thinking on or off where the template takes `enable_thinking` (ChatRequest.thinking). */
    thinking?: boolean;
}

/** A datastore change the app made, replayed on the engine process's own connection so its indexes follow. */
export type DatastoreChange = { [K in keyof DatastoreEvents]: { name: K; args: DatastoreEvents[K] } }[keyof DatastoreEvents];

/** An error as it crosses: its class by name, its program code, and its one-line message. */
export interface WireError {
    kind: "service" | "engine" | "other";
    code: string | null;
    message: string;
}

/** Messages the app sends to the engine process. Requests carry an `id` the reply names. */
export type ToEngine =
    | { type: "load"; id: number; options: EngineLoadOptions }
    | { type: "chat"; id: number; engine: number; messages: ChatMessage[]; request: WireGenerateRequest }
    | { type: "complete"; id: number; engine: number; prompt: string; request: WireGenerateRequest }
    /** Stops the running request `id`; it replies as it does when aborted (stopReason "abort"). */
    | { type: "abort"; id: number }
    | { type: "dispose"; id: number; engine: number }
    | { type: "datastore-change"; change: DatastoreChange }
    /** Frees every engine, closes the datastore and exits. */
    | { type: "exit" };

/** What each request replies with. */
export interface EngineReplies {
    load: { engine: number; info: LoadedEngineInfo };
    chat: { result: ChatResult; info: LoadedEngineInfo };
    complete: { result: GenerateResult; info: LoadedEngineInfo };
    dispose: null;
}

export type EngineRequest = Extract<ToEngine, { type: keyof EngineReplies }>;

/** Messages the engine process sends to the app. */
export type FromEngine =
    /** Started and listening (sent once). */
    | { type: "ready"; pid: number }
    /** Still alive while a load runs (the app gives up on a process that stays silent while loading). */
    | { type: "heartbeat" }
    | { type: "load-progress"; id: number; progress: number }
    /** One line about the load in progress, for the loading bar ("preparing the GPU: first load only"). */
    | { type: "load-note"; id: number; note: string }
    /** Steps of a streamed request, in order, batched: the first at once, then at most one message a frame. */
    | { type: "steps"; id: number; steps: StepEvent[] }
    | { type: "reply"; id: number; value: EngineReplies[keyof EngineReplies] }
    | { type: "failure"; id: number; error: WireError };

/** The handlers of one side: one per message type, each given exactly its message. */
export type MessageHandlers<M extends { type: string }> = { [K in M["type"]]: (message: Extract<M, { type: K }>) => void | Promise<void> };

/** How often the engine process says it is alive while loading, and how long the app waits for that. */
export const heartbeatMs = 1000;
/** Steps of a streamed answer are sent at most this often after its first one (ms). */
export const stepFrameMs = 8;
/** The process title, so an operator can find the engine (ps, top, Activity Monitor). */
export const engineProcessTitle = "presage-engine";
