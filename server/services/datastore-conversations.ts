import type { Datastore } from "../../datastore/datastore.ts";
import type { Message as StoredMessage } from "../../datastore/conversations.ts";
import type { AnswerStats, Conversation, DraftSource, Message, SamplingSettings, StepEvent } from "../app-api.ts";
import type { ConversationFields, ConversationRepository, NewMessage } from "./conversation-repository.ts";

/** What an assistant message keeps in the datastore's `stats` JSON column. */
interface StoredStats {
    stats: AnswerStats | null;
    steps: StepEvent[] | null;
    strategies: DraftSource[] | null;
}

/** Per-conversation fields the datastore's table has no column for, kept as a settings entry. */
interface ConversationExtras {
    systemPrompt: string;
    sampling: Partial<SamplingSettings>;
}

const extrasKey = (id: number) => `conversation.${id}`;

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
        const c = this.store.conversations.create({ title: fields.title });
        this.store.settings.setJson(extrasKey(c.id), { systemPrompt: fields.systemPrompt, sampling: fields.sampling } satisfies ConversationExtras);
        return this.toConversation(c);
    }

    update(id: string, patch: Partial<ConversationFields>): Conversation | undefined {
        const n = toId(id);
        const existing = n == null ? undefined : this.store.conversations.get(n);
        if (n == null || existing == null) return undefined;
        if (patch.title != null) this.store.conversations.rename(n, patch.title);
        if (patch.systemPrompt != null || patch.sampling != null) {
            const extras = this.extras(n);
            this.store.settings.setJson(extrasKey(n), {
                systemPrompt: patch.systemPrompt ?? extras.systemPrompt,
                sampling: patch.sampling ?? extras.sampling
            } satisfies ConversationExtras);
            if (patch.title == null) this.store.conversations.rename(n, existing.title); // bumps updatedAt
        }
        return this.get(id);
    }

    remove(id: string): boolean {
        const n = toId(id);
        if (n == null) return false;
        this.store.settings.delete(extrasKey(n));
        return this.store.conversations.remove(n);
    }

    messages(conversationId: string): Message[] {
        const n = toId(conversationId);
        return n == null ? [] : this.store.conversations.messages(n).map(toMessage);
    }

    addMessage(conversationId: string, message: NewMessage): Message {
        const stats: StoredStats | undefined = message.role === "assistant"
            ? { stats: message.stats ?? null, steps: message.steps ?? null, strategies: message.strategies ?? null }
            : undefined;
        return toMessage(this.store.conversations.addMessage(Number(conversationId), { role: message.role, content: message.content, stats }));
    }

    removeMessagesFrom(conversationId: string, messageId: string): void {
        // The datastore has no call for this yet (asked of its owner); the SQL is the whole of it,
        // and the event tells the history drafter to forget the answers that went.
        const changes = this.store.db.prepare("DELETE FROM messages WHERE conversation_id = ? AND id >= ?").run(Number(conversationId), Number(messageId)).changes;
        if (changes > 0) this.store.events.emit("messages-removed");
    }

    clear(): void {
        this.store.conversations.clearHistory();
    }

    private extras(id: number): ConversationExtras {
        const v = this.store.settings.getJson(extrasKey(id)) as Partial<ConversationExtras> | undefined;
        return { systemPrompt: typeof v?.systemPrompt === "string" ? v.systemPrompt : "", sampling: v?.sampling != null && typeof v.sampling === "object" ? v.sampling : {} };
    }

    private toConversation(c: { id: number; title: string; createdAt: number; updatedAt: number }): Conversation {
        const extras = this.extras(c.id);
        return { id: String(c.id), title: c.title, systemPrompt: extras.systemPrompt, sampling: extras.sampling, createdAt: c.createdAt, updatedAt: c.updatedAt };
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
        strategies: s?.strategies ?? null
    };
}
