import type { AnswerStats, Conversation, DraftSource, Message, ReasoningPart, SamplingSettings, StepEvent } from "./app-api.ts";

export interface NewMessage {
    role: Message["role"];
    content: string;
    stats?: AnswerStats | null;
    steps?: StepEvent[] | null;
    strategies?: DraftSource[] | null;
    reasoning?: ReasoningPart | null;
}

export interface ConversationFields {
    title: string;
    systemPrompt: string;
    sampling: Partial<SamplingSettings>;
    thinking: boolean | null;
}

/**
 * Where conversations and messages persist, in the app API's shapes (string ids). The chat service
 * depends on this, not on the datastore's tables, so the storage can change without touching it.
 */
export interface ConversationRepository {
    /** Newest first. */
    list(): Conversation[];
    get(id: string): Conversation | undefined;
    create(fields: ConversationFields): Conversation;
    /** Undefined when there is no such conversation. */
    update(id: string, patch: Partial<ConversationFields>): Conversation | undefined;
    remove(id: string): boolean;
    /** The messages shown, oldest first: of an answer's versions only the one shown, with `versions` set. */
    messages(conversationId: string): Message[];
    /** Shows one version of an answer in place of the others; false when there is no such answer. */
    showVersion(conversationId: string, messageId: string): boolean;
    addMessage(conversationId: string, message: NewMessage): Message;
    /** Deletes `messageId` and every later message of the conversation. */
    removeMessagesFrom(conversationId: string, messageId: string): void;
    /** Stops every answer written so far from feeding the history drafter; conversations stay. */
    clear(): void;
}
