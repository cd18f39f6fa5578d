import type { Datastore } from "../datastore/datastore.ts";
import type { Message as StoredMessage, Conversation as StoredConversation } from "../datastore/conversations.ts";
import type { AnswerStats, Conversation, DraftSource, Message, ReasoningPart, SamplingSettings, StepEvent } from "./app-api.ts";
import type { ConversationFields, ConversationRepository, NewMessage } from "./conversation-repository.ts";

/** What an assistant message keeps in the datastore's `stats` JSON column. */
interface StoredStats {
    stats: AnswerStats | null;
    steps: StepEvent[] | null;
    strategies: DraftSource[] | null;
    /** The answer's reasoning (thinking models): kept here, never in `content`, so no index sees it. */
    reasoning?: ReasoningPart | null;
}

/** Conversations and messages in the Presage datastore (SQLite). */
export class DatastoreConversations implements ConversationRepository {
    constructor(private readonly store: Datastore) {}

    list(): Conversation[] {
        return this.store.conversations.list().map((c) => this.toConversation(c));
    }

    get(id: string): Conversation | undefined {
        const n = toId(id);
        const c = n == null ? undefined : this.store.conversations.get(n);
        return c && this.toConversation(c);
    }

    create(fields: ConversationFields): Conversation {
        return this.toConversation(this.store.conversations.create({ title: fields.title, systemPrompt: fields.systemPrompt, sampling: fields.sampling, thinking: fields.thinking }));
    }

    update(id: string, patch: Partial<ConversationFields>): Conversation | undefined {
        const n = toId(id);
        if (n == null) return undefined;
        // Nothing to change: not an update, so the conversation keeps its place in the list.
        if (patch.title == null && patch.systemPrompt == null && patch.sampling == null && patch.thinking === undefined) return this.get(id);
        const c = this.store.conversations.update(n, { title: patch.title, systemPrompt: patch.systemPrompt, sampling: patch.sampling, thinking: patch.thinking });
        return c && this.toConversation(c);
    }

    remove(id: string): boolean {
        const n = toId(id);
        return n != null && this.store.conversations.remove(n);
    }

    messages(conversationId: string): Message[] {
        const n = toId(conversationId);
        if (n == null) return [];
        const out: Message[] = [];
        // The versions of one answer are the run of assistant messages between two user messages.
        let run: StoredMessage[] = [];
        const endRun = () => {
            const shown = run.find((m) => !m.hidden) ?? run.at(-1);
            if (shown != null)
                out.push({ ...toMessage(shown), versions: run.length < 2 ? null : { ids: run.map((m) => String(m.id)), index: run.indexOf(shown) } });
            run = [];
        };
        for (const m of this.store.conversations.messages(n)) {
            if (m.role === "assistant") {
                run.push(m);
                continue;
            }
            endRun();
            out.push(toMessage(m));
        }
        endRun();
        return out;
    }

    showVersion(conversationId: string, messageId: string): boolean {
        const c = toId(conversationId);
        const m = toId(messageId);
        return c != null && m != null && this.store.conversations.showVersion(c, m);
    }

    addMessage(conversationId: string, message: NewMessage): Message {
        const stats: StoredStats | undefined = message.role === "assistant"
            ? { stats: message.stats ?? null, steps: message.steps ?? null, strategies: message.strategies ?? null, ...(message.reasoning != null ? { reasoning: message.reasoning } : {}) }
            : undefined;
        const stored = this.store.conversations.addMessage(Number(conversationId), { role: message.role, content: message.content, stats });
        if (stored.role !== "assistant") return toMessage(stored);
        // A regenerated answer comes back with the versions it joined.
        return this.messages(conversationId).find((m) => m.id === String(stored.id)) ?? toMessage(stored);
    }

    removeMessagesFrom(conversationId: string, messageId: string): void {
        this.store.conversations.removeFrom(Number(conversationId), Number(messageId));
    }

    clear(): void {
        this.store.conversations.clearHistory();
    }

    private toConversation(c: StoredConversation): Conversation {
        // The store keeps the sampling object as it was given; the service validated it on the way in.
        const sampling = c.sampling as Partial<SamplingSettings>;
        return { id: String(c.id), title: c.title, systemPrompt: c.systemPrompt, sampling, thinking: c.thinking, createdAt: c.createdAt, updatedAt: c.updatedAt };
    }
}

function toId(id: string): number | undefined {
    return /^[1-9]\d{0,15}$/.test(id) ? Number(id) : undefined;
}

function toMessage(m: StoredMessage): Message {
    const s = (m.stats ?? null) as Partial<StoredStats> | null;
    return {
        id: String(m.id),
        conversationId: String(m.conversationId),
        role: m.role,
        content: m.content,
        createdAt: m.createdAt,
        stats: s?.stats ?? null,
        steps: s?.steps ?? null,
        strategies: s?.strategies ?? null,
        ...(s?.reasoning != null ? { reasoning: s.reasoning } : {}),
        versions: null
    };
}
