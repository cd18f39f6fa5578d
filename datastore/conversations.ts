import type { Database } from "better-sqlite3";
import type { EventEmitter } from "node:events";
import type { DatastoreEvents } from "./datastore.ts";

export type MessageRole = "system" | "user" | "assistant";

export interface Conversation {
    id: number;
    title: string;
    /** The system prompt its answers start from ('' for none). */
    systemPrompt: string;
    /**
     * Sampling settings this conversation overrides (the app's `SamplingSettings` fields), kept as
     * given: a field left out follows the app's settings, a field set to null is kept as null.
     */
    sampling: Record<string, unknown>;
    /** Thinking on or off for templates that can switch it; null follows the template's default. */
    thinking: boolean | null;
    createdAt: number;
    updatedAt: number;
}

/** What a conversation is created with, or changed to. */
export interface ConversationFields {
    title: string;
    systemPrompt: string;
    sampling: Record<string, unknown>;
    /** null: the template's default (in an update: set back to it; undefined leaves it). */
    thinking: boolean | null;
}

export interface ConversationSummary extends Conversation {
    messageCount: number;
}

export interface Message {
    id: number;
    conversationId: number;
    role: MessageRole;
    content: string;
    createdAt: number;
    /** Whatever the engine recorded about the answer (tokens/s, acceptance per source...), as JSON. */
    stats: unknown;
    /**
     * An answer kept as another version of the answer shown (Regenerate keeps the earlier ones).
     * The versions of one answer are the run of assistant messages between two user messages; exactly
     * one of them is shown, and the conversation continues from it.
     */
    hidden: boolean;
}

export interface NewMessage {
    role: MessageRole;
    content: string;
    stats?: unknown;
    /** Defaults to now. */
    createdAt?: number;
}

interface MessageRow {
    id: number;
    conversation_id: number;
    role: MessageRole;
    content: string;
    created_at: number;
    stats: string | null;
    hidden: number;
}

const toMessage = (r: MessageRow): Message => ({
    id: r.id,
    conversationId: r.conversation_id,
    role: r.role,
    content: r.content,
    createdAt: r.created_at,
    stats: r.stats == null ? null : JSON.parse(r.stats),
    hidden: r.hidden === 1
});

/**
 * The title a conversation gets from its first user message: that message's first line, cut at a
 * word near 60 characters. The one rule for titles (the window and the services use the store's).
 */
export function titleFrom(text: string): string {
    const line = text.trim().split("\n")[0]!.trim().replace(/\s+/g, " ");
    if (line.length <= 60) return line;
    const cut = line.slice(0, 59);
    const space = cut.lastIndexOf(" ");
    return (space >= 40 ? cut.slice(0, space) : cut).trimEnd() + "…";
}

interface ConversationRow {
    id: number;
    title: string;
    system_prompt: string;
    sampling: string;
    thinking: number | null;
    created_at: number;
    updated_at: number;
    message_count?: number;
}

function thinkingColumn(thinking: boolean | null | undefined): number | null {
    return thinking == null ? null : thinking ? 1 : 0;
}

/** The stored sampling object; anything else (a hand-edited file) reads as no overrides. */
function parseSampling(text: string): Record<string, unknown> {
    try {
        const v: unknown = JSON.parse(text);
        return v != null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
    } catch {
        return {};
    }
}

const toConversation = (r: ConversationRow): Conversation => ({
    id: r.id,
    title: r.title,
    systemPrompt: r.system_prompt,
    sampling: parseSampling(r.sampling),
    thinking: r.thinking == null ? null : r.thinking === 1,
    createdAt: r.created_at,
    updatedAt: r.updated_at
});

/**
 * Chat history: conversations and their messages. Assistant answers stored here also feed the
 * history drafter, which listens to the datastore's `message-added` / `messages-removed` events.
 */
export class ConversationStore {
    constructor(
        private readonly db: Database,
        private readonly events: EventEmitter<DatastoreEvents>
    ) {}

    create(fields: Partial<ConversationFields> = {}): Conversation {
        const now = Date.now();
        const row = this.db
            .prepare("INSERT INTO conversations (title, system_prompt, sampling, thinking, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING *")
            .get(fields.title ?? "", fields.systemPrompt ?? "", JSON.stringify(fields.sampling ?? {}), thinkingColumn(fields.thinking), now, now) as ConversationRow;
        return toConversation(row);
    }

    /**
     * Changes the fields given (the others stay) and marks the conversation updated. Undefined when
     * there is no such conversation.
     */
    update(id: number, patch: Partial<ConversationFields>): Conversation | undefined {
        const row = this.db
            .prepare(
                `UPDATE conversations SET title = COALESCE(?, title), system_prompt = COALESCE(?, system_prompt),
                 sampling = COALESCE(?, sampling), thinking = CASE WHEN ? THEN ? ELSE thinking END, updated_at = ? WHERE id = ? RETURNING *`
            )
            .get(patch.title ?? null, patch.systemPrompt ?? null, patch.sampling == null ? null : JSON.stringify(patch.sampling),
                patch.thinking === undefined ? 0 : 1, thinkingColumn(patch.thinking), Date.now(), id) as
            | ConversationRow
            | undefined;
        return row && toConversation(row);
    }

    get(id: number): Conversation | undefined {
        const row = this.db.prepare("SELECT * FROM conversations WHERE id = ?").get(id) as ConversationRow | undefined;
        return row && toConversation(row);
    }

    /** Most recently updated first. */
    list(): ConversationSummary[] {
        const rows = this.db
            .prepare(
                `SELECT c.*, (SELECT count(*) FROM messages m WHERE m.conversation_id = c.id) AS message_count
                 FROM conversations c ORDER BY c.updated_at DESC, c.id DESC`
            )
            .all() as ConversationRow[];
        return rows.map((r) => ({ ...toConversation(r), messageCount: r.message_count ?? 0 }));
    }

    /** Deletes a conversation and its messages. */
    remove(id: number): boolean {
        const removed = this.db.prepare("DELETE FROM conversations WHERE id = ?").run(id).changes > 0;
        if (removed) this.events.emit("messages-removed");
        return removed;
    }

    /**
     * Appends a message. Recording a finished assistant answer here is all the engine has to do for
     * the history drafter to learn from it. An untitled conversation takes its title from its first
     * user message (`titleFrom`). An assistant message that follows other answers to the same
     * question becomes their newest version, and the one shown.
     * @throws Error when the conversation does not exist.
     */
    addMessage(conversationId: number, message: NewMessage): Message {
        const createdAt = message.createdAt ?? Date.now();
        const row = this.db.transaction(() => {
            const updated = this.db.prepare("UPDATE conversations SET updated_at = ? WHERE id = ?").run(createdAt, conversationId);
            if (updated.changes === 0) throw new Error(`Conversation ${conversationId} does not exist.`);
            if (message.role === "user") {
                const title = titleFrom(message.content);
                if (title !== "") this.db.prepare("UPDATE conversations SET title = ? WHERE id = ? AND title = ''").run(title, conversationId);
            }
            const row = this.db
                .prepare("INSERT INTO messages (conversation_id, role, content, created_at, stats) VALUES (?, ?, ?, ?, ?) RETURNING *")
                .get(conversationId, message.role, message.content, createdAt, message.stats === undefined ? null : JSON.stringify(message.stats)) as MessageRow;
            if (message.role === "assistant") this.showOnly(conversationId, row.id);
            return row;
        })();
        const stored = toMessage(row);
        this.events.emit("message-added", stored);
        return stored;
    }

    /**
     * Shows one version of an answer and hides its other versions (the assistant messages between
     * the same two user messages). False when the conversation has no such assistant message.
     */
    showVersion(conversationId: number, messageId: number): boolean {
        return this.db.transaction(() => {
            const row = this.db.prepare("SELECT id FROM messages WHERE id = ? AND conversation_id = ? AND role = 'assistant'").get(messageId, conversationId);
            if (row == null) return false;
            this.showOnly(conversationId, messageId);
            this.db.prepare("UPDATE conversations SET updated_at = ? WHERE id = ?").run(Date.now(), conversationId);
            return true;
        })();
    }

    /** Hides every other assistant message of `messageId`'s run (its versions) and shows it. */
    private showOnly(conversationId: number, messageId: number): void {
        // The run's bounds: the nearest non-assistant messages before and after it.
        const before = (this.db.prepare("SELECT COALESCE(MAX(id), 0) AS id FROM messages WHERE conversation_id = ? AND id < ? AND role != 'assistant'").get(conversationId, messageId) as { id: number }).id;
        const after = (this.db.prepare("SELECT MIN(id) AS id FROM messages WHERE conversation_id = ? AND id > ? AND role != 'assistant'").get(conversationId, messageId) as { id: number | null }).id;
        this.db
            .prepare("UPDATE messages SET hidden = (id != ?) WHERE conversation_id = ? AND role = 'assistant' AND id > ? AND id < ?")
            .run(messageId, conversationId, before, after ?? Number.MAX_SAFE_INTEGER);
    }

    /** Deletes `messageId` and every later message of the conversation (an edit starts over from there). */
    removeFrom(conversationId: number, messageId: number): number {
        const changes = this.db.prepare("DELETE FROM messages WHERE conversation_id = ? AND id >= ?").run(conversationId, messageId).changes;
        if (changes > 0) this.events.emit("messages-removed");
        return changes;
    }

    messages(conversationId: number): Message[] {
        return (this.db.prepare("SELECT * FROM messages WHERE conversation_id = ? ORDER BY id").all(conversationId) as MessageRow[]).map(toMessage);
    }

    /**
     * The assistant answers the history drafter learns from: every one written after the last
     * "clear history".
     */
    assistantMessages(): { id: number; content: string }[] {
        return this.db
            .prepare("SELECT id, content FROM messages WHERE role = 'assistant' AND id > ? ORDER BY id")
            .all(this.historyStart()) as { id: number; content: string }[];
    }

    /**
     * "Clear history": the history drafter forgets every answer written so far. Conversations stay
     * (deleting them is the user's separate choice); only their use as a source of guesses ends.
     * Returns how many answers were forgotten.
     */
    clearHistory(): number {
        const last = (this.db.prepare("SELECT COALESCE(MAX(id), 0) AS id FROM messages").get() as { id: number }).id;
        const forgotten = (this.db.prepare("SELECT COUNT(*) AS n FROM messages WHERE role = 'assistant' AND id > ?").get(this.historyStart()) as { n: number }).n;
        this.db.prepare("INSERT INTO settings (key, value) VALUES ('history.startAfter', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value").run(JSON.stringify(last));
        this.events.emit("messages-removed");
        return forgotten;
    }

    /** How many answers the history drafter can learn from (`assistantMessages().length`, without reading them). */
    historyAnswerCount(): number {
        return (this.db.prepare("SELECT COUNT(*) AS n FROM messages WHERE role = 'assistant' AND id > ?").get(this.historyStart()) as { n: number }).n;
    }

    private historyStart(): number {
        const row = this.db.prepare("SELECT value FROM settings WHERE key = 'history.startAfter'").get() as { value: string } | undefined;
        return row == null ? 0 : Number(JSON.parse(row.value)) || 0;
    }
}
