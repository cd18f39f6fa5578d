import { randomUUID } from "node:crypto";
import type { ChatMessage } from "../native-models/chat/chat-session.ts";
import type { AnswerEvent, Conversation, ConversationWithMessages, Message, StepEvent } from "./app-api.ts";
import type { ConversationRepository } from "./conversation-repository.ts";
import type { GenerationService } from "./generation-service.ts";
import type { ModelService } from "./model-service.ts";
import { createConversationSchema, idSchema, searchSchema, sendMessageSchema, updateConversationSchema } from "./schemas.ts";
import { EngineError } from "../native-models/engine-error.ts";
import { asServiceError, firstLine, isAbortError, ServiceError } from "./service-error.ts";
import { validate } from "./validation.ts";

export interface ChatServiceOptions {
    conversations: ConversationRepository;
    generation: GenerationService;
    models: ModelService;
}

/**
 * Conversations and their answers: stores the user's message, answers it with the conversation's
 * history through the generation service, streams the steps, and stores the answer with its stats.
 */
export class ChatService {
    private readonly active = new Map<string, AbortController>();
    /** The conversation each running answer belongs to, by generation id. */
    private readonly answering = new Map<string, string>();

    constructor(private readonly options: ChatServiceOptions) {}

    /** Newest first; `search` matches titles and message text, ignoring case. */
    list(search?: string): Conversation[] {
        const query = validate(searchSchema, search, "search")?.trim().toLowerCase();
        const all = this.options.conversations.list();
        if (!query) return all;
        return all.filter((c) => c.title.toLowerCase().includes(query)
            || this.options.conversations.messages(c.id).some((m) => m.content.toLowerCase().includes(query)));
    }

    create(request: unknown): Conversation {
        const req = validate(createConversationSchema, request ?? {}, "new conversation");
        return this.options.conversations.create({ title: req.title ?? "", systemPrompt: req.systemPrompt ?? "", sampling: req.sampling ?? {}, thinking: req.thinking ?? null });
    }

    get(id: string): ConversationWithMessages {
        const conversation = this.require(id);
        return { conversation, messages: this.options.conversations.messages(conversation.id) };
    }

    /** Renames, changes the system prompt or sampling, or shows another version of an answer. */
    update(id: string, patch: unknown): Conversation {
        const { showVersion, ...fields } = validate(updateConversationSchema, patch ?? {}, "conversation change");
        this.require(id);
        if (showVersion != null) {
            if ([...this.answering.values()].includes(id))
                throw new ServiceError("conflict", "This conversation is answering: switch versions when the answer is done.");
            if (!this.options.conversations.showVersion(id, showVersion))
                throw new ServiceError("not-found", `There is no answer ${showVersion} in this conversation.`);
        }
        return this.options.conversations.update(id, fields)!;
    }

    remove(id: string): void {
        if (!this.options.conversations.remove(validate(idSchema, id, "conversation id")))
            throw new ServiceError("not-found", `There is no conversation ${id}: it may have been deleted.`);
        // Its answer has nowhere to go any more.
        for (const [generationId, conversationId] of this.answering) if (conversationId === id) this.active.get(generationId)?.abort();
    }

    clearHistory(): void {
        this.options.conversations.clear();
    }

    /**
     * Stores the user's message (or applies the edit / regenerate) and answers it. Problems found
     * before the answer starts (bad request, no model, busy) reject; after "start", every outcome is
     * an event and the promise resolves.
     */
    async sendMessage(conversationId: string, request: unknown, onEvent: (event: AnswerEvent) => void, options: { signal?: AbortSignal } = {}): Promise<void> {
        const req = validate(sendMessageSchema, request, "message");
        const conversation = this.require(conversationId);
        const store = this.options.conversations;
        const models = this.options.models;
        if (!models.ready) throw new ServiceError("no-model", "No model is loaded: load one in the models panel first.");
        // One answer per conversation at a time: a second message (another window, a retry) would
        // interleave its turn with the running one's and join its answer as a "version". It is
        // refused before anything is stored; the check and the claim below run without an await
        // between them, so two requests cannot both pass.
        if ([...this.answering.values()].includes(conversation.id))
            throw new ServiceError("conflict", "This conversation is still answering the previous message: wait for the answer (or stop it), then send again.");
        models.queue.admit();

        let history = store.messages(conversation.id);
        let userMessage: Message | null = null;
        if (req.editMessageId != null) {
            const target = history.find((m) => m.id === req.editMessageId);
            if (target == null) throw new ServiceError("not-found", `There is no message ${req.editMessageId} in this conversation.`);
            if (target.role !== "user") throw new ServiceError("invalid-request", "Only your own messages can be edited.");
            store.removeMessagesFrom(conversation.id, target.id);
            userMessage = store.addMessage(conversation.id, { role: "user", content: req.content! });
        } else if (req.regenerate) {
            // The shown answer stays, as an earlier version of the new one (the store adds it to the run).
            if (history.at(-1)?.role === "assistant") history = history.slice(0, -1);
            if (history.at(-1)?.role !== "user")
                throw new ServiceError("invalid-request", "There is no question to answer again in this conversation.");
        } else {
            userMessage = store.addMessage(conversation.id, { role: "user", content: req.content! });
        }
        if (!req.regenerate) history = store.messages(conversation.id);
        // The first user message titled an untitled conversation: the window shows the title at once.
        const current = store.get(conversation.id) ?? conversation;

        const generationId = randomUUID();
        const controller = new AbortController();
        const signal = options.signal == null ? controller.signal : AbortSignal.any([controller.signal, options.signal]);
        this.active.set(generationId, controller);
        this.answering.set(generationId, conversation.id);
        const steps: StepEvent[] = [];
        try {
            onEvent({ type: "start", generationId, userMessage, conversation: current });
            const messages: ChatMessage[] = [
                ...(conversation.systemPrompt.trim() !== "" ? [{ role: "system" as const, content: conversation.systemPrompt }] : []),
                // Past reasoning goes with its answer; the chat template keeps or drops it, as it does.
                ...history.map((m) => ({ role: m.role, content: m.content, ...(m.reasoning?.text ? { reasoning: m.reasoning.text } : {}) }))
            ];
            const result = await this.options.generation.chat(messages, {
                strategies: req.strategies,
                sampling: [conversation.sampling],
                ...(conversation.thinking == null ? {} : { thinking: conversation.thinking }),
                signal,
                onStep: (e) => {
                    const step: StepEvent = {
                        step: e.step, drafted: e.drafted, accepted: e.accepted, source: e.source, tokens: [...e.tokens], text: e.text, ms: e.ms,
                        depth: e.depth, plainMs: e.plainMs, ...(e.prompt != null ? { prompt: e.prompt } : {}),
                        ...(e.reasoning != null ? { reasoning: e.reasoning } : {}),
                        ...(e.pieces != null && e.pieces.join("") === e.text ? { pieces: e.pieces } : {})
                    };
                    steps.push(step);
                    onEvent({ type: "step", step });
                }
            });
            if (store.get(conversation.id) == null) throw new ConversationGone();
            const message = store.addMessage(conversation.id, { role: "assistant", content: result.text, stats: result.stats, steps, strategies: result.strategies, reasoning: result.reasoning ?? null });
            onEvent({ type: "done", message, stopReason: result.stopReason });
        } catch (err) {
            if (err instanceof ConversationGone || (store.get(conversation.id) == null && (isAbortError(err) || signal.aborted))) {
                // Deleted while answering: nothing to store, and nothing went wrong.
                console.error(`presage: conversation ${conversation.id} was deleted while answering; its answer was dropped.`);
                onEvent({ type: "error", message: "The conversation was deleted while it was answering." });
                return;
            }
            // A message too long for the context is refused, not kept: the conversation keeps
            // alternating, and resending a shorter one does not leave an unanswered turn behind.
            if (err instanceof EngineError && err.code === "context-overflow" && userMessage != null && steps.length === 0)
                store.removeMessagesFrom(conversation.id, userMessage.id);
            const known = asServiceError(err);
            const message = isAbortError(err) ? "The answer was stopped before it started." : known != null ? known.message : `The answer failed: ${firstLine(err)}`;
            if (known == null && !isAbortError(err)) console.error(`presage: answer failed: ${(err as Error).stack ?? err}`);
            onEvent({ type: "error", message });
        } finally {
            this.active.delete(generationId);
            this.answering.delete(generationId);
        }
    }

    /** Stops an answer; it ends with stopReason "abort" and what was generated is kept. */
    stop(generationId: string): void {
        const controller = this.active.get(validate(idSchema, generationId, "generation id"));
        if (controller == null) throw new ServiceError("not-found", `There is no running answer ${generationId}: it may have finished already.`);
        controller.abort();
    }

    /** Stops every answer (shutdown). */
    stopAll(): void {
        for (const controller of this.active.values()) controller.abort();
    }

    private require(id: string): Conversation {
        const conversation = this.options.conversations.get(validate(idSchema, id, "conversation id"));
        if (conversation == null) throw new ServiceError("not-found", `There is no conversation ${id}: it may have been deleted.`);
        return conversation;
    }
}

/** The conversation went away while its answer ran. */
class ConversationGone extends Error {}
