import type { Api } from "./api.ts";
import { nextFrame } from "./frame.ts";
import { LiveReasoning, type ReasoningView } from "./live-reasoning.ts";
// The engine's own accumulator (pure, bundled by Vite): live stats count exactly like the stored ones.
import { StatsRecorder } from "../../../native-models/decoding/stats.ts";
import type { AnswerEvent, AnswerStats, Conversation, Message, SendMessageRequest, StepEvent } from "./types.ts";

/** The answer being generated: its steps arrive in bursts and reach the screen once per frame. */
export class LiveAnswer {
    generationId = $state<string | null>(null);
    /** Stats of the steps on screen; a new object each frame. */
    stats = $state.raw<AnswerStats | null>(null);
    /** Increases each frame that added steps. */
    version = $state(0);
    error = $state<string | null>(null);
    stopRequested = $state(false);
    /** A thinking model's reasoning so far, apart from the answer; null when it has none. */
    reasoning = $state.raw<ReasoningView | null>(null);
    private readonly liveReasoning = new LiveReasoning();
    /** Steps on screen so far (not reactive: read it on `version`). */
    readonly steps: StepEvent[] = [];
    /** The element the text was drawn into, and how (for the finished message to take over). */
    view: { element: HTMLElement; colour: boolean } | null = null;
    text = "";
    /** Steps that arrived since the last frame, with when they ended on the window's clock. */
    private readonly pending: { step: StepEvent; at: number }[] = [];
    private firstArrival: number | null = null;
    private generationMs = 0;
    private cancelFrame: (() => void) | null = null;
    private readonly listeners = new Set<(steps: readonly StepEvent[]) => void>();
    private readonly live: StatsRecorder;

    constructor(readonly startedAt: number, private readonly now: () => number) {
        // Each step carries plain decoding's predicted time for it (the engine's), so the live estimate
        // and the stored one share the yardstick; only the clock is the window's.
        this.live = new StatsRecorder(undefined, startedAt);
        this.stats = this.live.snapshot(startedAt);
    }

    push(step: StepEvent): void {
        // The first token at its arrival (the wait a user sees: queue, prompt, network); the steps after
        // it on the engine's own step times, which the 16 ms framing of the stream would otherwise
        // blur (a tenth of a second's answer read 15% off); so the live rate ends where the stored one does.
        if (this.firstArrival == null) this.firstArrival = this.now();
        else this.generationMs += step.ms;
        this.pending.push({ step, at: this.firstArrival + this.generationMs });
        this.cancelFrame ??= nextFrame(() => this.flush());
    }

    /** Moves what arrived since the last frame onto the screen: the renderers, then the stats. */
    flush(): void {
        this.cancelFrame?.();
        this.cancelFrame = null;
        if (this.pending.length === 0) return;
        const batch = this.pending.splice(0);
        const steps = batch.map((b) => b.step);
        for (const { step, at } of batch) {
            this.steps.push(step);
            this.text += step.text;
            this.live.record(step, at);
            this.liveReasoning.record(step, at);
        }
        this.reasoning = this.liveReasoning.snapshot();
        for (const listener of this.listeners) listener(steps);
        this.stats = this.live.snapshot(this.now(), this.firstArrival! + this.generationMs);
        this.version++;
    }

    /** Calls `listener` with each frame's new steps; returns the unsubscribe. */
    onSteps(listener: (steps: readonly StepEvent[]) => void): () => void {
        this.listeners.add(listener);
        return () => this.listeners.delete(listener);
    }

    dispose(): void {
        this.cancelFrame?.();
        this.cancelFrame = null;
        this.listeners.clear();
    }
}

export type StopReason = Extract<AnswerEvent, { type: "done" }>["stopReason"];

let localIds = 0;

/** Drawn answers the finished message may take over instead of drawing them again (by message id). */
const drawnAnswers = new Map<string, { element: HTMLElement; colour: boolean; steps: number }>();

/**
 * The nodes drawn while `messageId` streamed, if they were drawn the way now asked (`colour`) from
 * `steps` steps; each is handed over once.
 */
export function takeDrawnAnswer(messageId: string, colour: boolean, steps: number): HTMLElement | null {
    const drawn = drawnAnswers.get(messageId);
    drawnAnswers.delete(messageId);
    return drawn != null && drawn.colour === colour && drawn.steps === steps ? drawn.element : null;
}

/** Where the window remembers the open conversation, so a reload returns to it. */
export interface LastConversationMemory {
    get(): string | null;
    set(id: string | null): void;
}

/** The open conversation's id in the window's localStorage (per origin: one per `presage serve` port, one in Electron). */
export const localLastConversation: LastConversationMemory = {
    get: () => {
        try {
            return globalThis.localStorage?.getItem("presage.lastConversation") || null;
        } catch {
            return null;
        }
    },
    set: (id) => {
        try {
            if (id == null) globalThis.localStorage?.removeItem("presage.lastConversation");
            else globalThis.localStorage?.setItem("presage.lastConversation", id);
        } catch {
            // Storage turned off: a reload starts a new chat, as before.
        }
    }
};

/** The open conversation, its messages, and the answer being generated. */
export class ChatStore {
    conversations = $state.raw<Conversation[]>([]);
    search = $state("");
    conversation = $state.raw<Conversation | null>(null);
    messages = $state.raw<Message[]>([]);
    live = $state.raw<LiveAnswer | null>(null);
    error = $state<string | null>(null);
    loading = $state(false);
    /** Why answers of this session ended, by message id (the stored message does not say). */
    stopReasons = $state.raw<Record<string, StopReason>>({});
    /** Text of a message that could not be sent, for the composer to take back (nothing typed is lost). */
    unsent = $state<string | null>(null);
    /** Called after each answer (stored or not): what depends on past answers may have changed. */
    onanswered: (() => void) | null = null;
    private searchSeq = 0;

    constructor(
        readonly api: Api,
        private readonly now: () => number = () => performance.now(),
        private readonly memory: LastConversationMemory = localLastConversation
    ) {}

    /** Loads the list and reopens the conversation that was open when the window last closed. */
    async start(): Promise<void> {
        await this.loadConversations();
        const last = this.memory.get();
        if (last == null || this.conversation != null) return;
        if (this.conversations.some((c) => c.id === last)) await this.open(last);
        else this.memory.set(null);
    }

    get generating(): boolean {
        return this.live != null;
    }

    async loadConversations(): Promise<void> {
        const seq = ++this.searchSeq;
        try {
            const list = await this.api.listConversations(this.search.trim() || undefined);
            if (seq === this.searchSeq) this.conversations = list;
        } catch (err) {
            this.error = (err as Error).message;
        }
    }

    async open(id: string): Promise<void> {
        if (this.generating) return;
        this.loading = true;
        try {
            const { conversation, messages } = await this.api.getConversation(id);
            this.conversation = conversation;
            this.messages = messages.filter((m) => m.role !== "system");
            this.error = null;
            this.memory.set(conversation.id);
        } catch (err) {
            this.error = (err as Error).message;
        } finally {
            this.loading = false;
        }
    }

    /** Starts an empty conversation view; the conversation itself is created with the first message. */
    newConversation(): void {
        if (this.generating) return;
        this.conversation = null;
        this.messages = [];
        this.error = null;
        this.memory.set(null);
    }

    /** Sets the open conversation (e.g. one just created by its settings) and lists it first. */
    adopt(conversation: Conversation): void {
        this.conversation = conversation;
        this.conversations = [conversation, ...this.conversations.filter((c) => c.id !== conversation.id)];
        this.memory.set(conversation.id);
    }

    async rename(id: string, title: string): Promise<void> {
        await this.update(id, { title });
    }

    async update(id: string, patch: Parameters<Api["updateConversation"]>[1]): Promise<void> {
        try {
            const updated = await this.api.updateConversation(id, patch);
            this.conversations = this.conversations.map((c) => (c.id === id ? updated : c));
            if (this.conversation?.id === id) this.conversation = updated;
        } catch (err) {
            this.error = (err as Error).message;
        }
    }

    async remove(id: string): Promise<void> {
        try {
            await this.api.deleteConversation(id);
            this.conversations = this.conversations.filter((c) => c.id !== id);
            if (this.conversation?.id === id) this.newConversation();
        } catch (err) {
            this.error = (err as Error).message;
        }
    }

    /**
     * Sends a new user message and streams the answer. The first message of a new chat creates the
     * conversation (the server titles it from the message); when the answer cannot start (no model,
     * busy), that conversation is deleted again, so no empty one is left behind.
     */
    async send(content: string): Promise<void> {
        const text = content.trim();
        if (text === "" || this.generating) return;
        let conversation = this.conversation;
        const created = conversation == null;
        if (conversation == null) {
            try {
                conversation = await this.api.createConversation({});
            } catch (err) {
                this.error = (err as Error).message;
                this.unsent = text;
                return;
            }
            this.adopt(conversation);
        }
        const pending = localMessage(conversation.id, "user", text);
        this.messages = [...this.messages, pending];
        const started = await this.answer(conversation.id, { content: text }, pending.id);
        if (started) return;
        this.unsent = text;
        if (created) await this.discard(conversation.id);
    }

    /** Deletes a conversation this window just created for a message that was never answered. */
    private async discard(id: string): Promise<void> {
        const error = this.error;
        try {
            await this.api.deleteConversation(id);
        } catch {
            // Already gone, or the server is unreachable: the list below shows what is there.
        }
        this.conversations = this.conversations.filter((c) => c.id !== id);
        if (this.conversation?.id === id) this.newConversation();
        this.error = error;
    }

    /** Replaces a user message, drops what followed it, and answers again. */
    async edit(messageId: string, content: string): Promise<void> {
        const text = content.trim();
        const conversation = this.conversation;
        if (text === "" || this.generating || conversation == null) return;
        const index = this.messages.findIndex((m) => m.id === messageId);
        if (index < 0) return;
        const edited = { ...this.messages[index]!, content: text };
        this.messages = [...this.messages.slice(0, index), edited];
        await this.answer(conversation.id, { content: text, editMessageId: messageId }, edited.id);
    }

    /** Answers the last question again; the answer shown now stays as an earlier version. */
    async regenerate(): Promise<void> {
        const conversation = this.conversation;
        if (this.generating || conversation == null) return;
        const last = this.messages.at(-1);
        // The new answer streams in the old one's place; the old one comes back as a version.
        if (last?.role === "assistant") this.messages = this.messages.slice(0, -1);
        await this.answer(conversation.id, { regenerate: true }, null);
    }

    /** Shows another kept version of an answer (and continues the conversation from it). */
    async showVersion(messageId: string): Promise<void> {
        const conversation = this.conversation;
        if (this.generating || conversation == null) return;
        try {
            await this.api.updateConversation(conversation.id, { showVersion: messageId });
        } catch (err) {
            this.error = (err as Error).message;
        }
        await this.reloadMessages(conversation.id);
    }

    /** Stops the answer; what was generated is kept. */
    async stop(): Promise<void> {
        const live = this.live;
        if (live == null || live.stopRequested) return;
        live.stopRequested = true;
        if (live.generationId != null) {
            try {
                await this.api.stopGeneration(live.generationId);
            } catch (err) {
                this.error = (err as Error).message;
            }
        }
    }

    /** Streams one answer; false when it did not start (the request was refused). */
    private async answer(conversationId: string, request: SendMessageRequest, pendingUserId: string | null): Promise<boolean> {
        const live = new LiveAnswer(this.now(), this.now);
        this.live = live;
        this.error = null;
        let final: Message | null = null;
        let stopReason: StopReason | null = null;
        let started = false;
        const onEvent = (event: AnswerEvent) => {
            switch (event.type) {
                case "start":
                    started = true;
                    live.generationId = event.generationId;
                    if (event.conversation != null) this.refresh(event.conversation);
                    if (event.userMessage != null && pendingUserId != null)
                        this.messages = this.messages.map((m) => (m.id === pendingUserId ? event.userMessage! : m));
                    if (live.stopRequested) void this.api.stopGeneration(event.generationId).catch(() => {});
                    break;
                case "step":
                    live.push(event.step);
                    break;
                case "done":
                    live.flush();
                    final = event.message;
                    stopReason = event.stopReason;
                    break;
                case "error":
                    live.flush();
                    live.error = event.message;
                    break;
            }
        };
        try {
            await this.api.sendMessage(conversationId, request, onEvent);
        } catch (err) {
            live.error = (err as Error).message;
        }
        live.flush();
        live.dispose();
        if (final != null) {
            const f: Message = final;
            if (live.view != null) {
                drawnAnswers.clear();
                drawnAnswers.set(f.id, { ...live.view, steps: live.steps.length });
            }
            this.messages = [...this.messages, f];
            if (stopReason != null) this.stopReasons = { ...this.stopReasons, [f.id]: stopReason };
        } else if (live.error != null) {
            this.error = live.error;
            // What the server kept is the truth: load it again.
            await this.reloadMessages(conversationId);
        }
        this.live = null;
        // A refused message changed nothing (and its new conversation is about to go).
        if (started) void this.loadConversations();
        this.onanswered?.();
        return started;
    }

    /** A newer copy of a conversation (its title, its time) in the list and the header. */
    private refresh(conversation: Conversation): void {
        this.conversations = this.conversations.map((c) => (c.id === conversation.id ? conversation : c));
        if (this.conversation?.id === conversation.id) this.conversation = conversation;
    }

    private async reloadMessages(conversationId: string): Promise<void> {
        try {
            const { conversation, messages } = await this.api.getConversation(conversationId);
            if (this.conversation?.id === conversationId) {
                this.conversation = conversation;
                this.messages = messages.filter((m) => m.role !== "system");
            }
        } catch { /* keep what is on screen */ }
    }
}

function localMessage(conversationId: string, role: "user" | "assistant", content: string): Message {
    return { id: `local-${++localIds}`, conversationId, role, content, createdAt: Date.now(), stats: null, steps: null, strategies: null };
}

