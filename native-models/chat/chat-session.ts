import { resolveChatWrapper, SpecialToken, type ChatHistoryItem, type ChatWrapper, type LlamaText, type Token } from "node-llama-cpp";
import type { GenerateRequest, GenerateResult, PresageEngine } from "../engine/presage-engine.ts";

export interface ChatMessage {
    role: "system" | "user" | "assistant";
    content: string;
}

/** What a chat answer request carries besides the messages. */
export type ChatRequest = Omit<GenerateRequest, "prompt">;

export interface ChatResult extends GenerateResult {
    /** Earlier messages dropped to fit the context (oldest first). */
    droppedMessages: number;
}

/**
 * Multi-turn chat over the engine: prompts are built with the model's own chat template (node-llama-cpp's
 * chat wrappers), the answer stops at the template's end-of-turn triggers, and the KV cache of earlier
 * turns is reused because each new prompt extends the previous one (the verifier keeps the common
 * prefix). When the conversation outgrows the context, the oldest turns are left out of the prompt (the
 * system prompt and the latest message are always kept) instead of failing.
 */
export class ChatSession {
    private readonly wrapper: ChatWrapper;

    constructor(private readonly engine: PresageEngine) {
        this.wrapper = resolveChatWrapper(engine.model);
    }

    get templateName(): string {
        return this.wrapper.wrapperName;
    }

    /** Answers the last user message of `messages`. Queued behind other requests on the engine. */
    respond(messages: readonly ChatMessage[], request: ChatRequest = {}): Promise<ChatResult> {
        return this.engine.exclusive(async () => {
            const maxTokens = request.maxTokens ?? 256;
            const { tokens, stopTokens, stopStrings, dropped } = this.buildPrompt(messages, maxTokens);
            const result = await this.engine.generateNow(tokens, {
                ...request,
                maxTokens,
                stopStrings: [...(request.stopStrings ?? []), ...stopStrings],
                stopTokens: [...(request.stopTokens ?? []), ...stopTokens]
            });
            return { ...result, text: result.text.trim(), droppedMessages: dropped };
        });
    }

    /** The prompt tokens for answering `messages`, dropping old turns until `maxTokens` more fit. */
    buildPrompt(messages: readonly ChatMessage[], maxTokens: number): { tokens: Token[]; stopTokens: Token[]; stopStrings: string[]; dropped: number } {
        if (messages.length === 0 || messages[messages.length - 1]!.role !== "user")
            throw new Error("A chat answer needs a conversation that ends with a user message.");
        const system = messages.filter((m) => m.role === "system");
        let turns = messages.filter((m) => m.role !== "system");
        const budget = this.engine.context.contextSize - Math.min(maxTokens, Math.floor(this.engine.context.contextSize / 2)) - 2;
        let dropped = 0;
        for (;;) {
            const state = this.wrapper.generateContextState({ chatHistory: toHistory([...system, ...turns]) });
            const tokens = state.contextText.tokenize(this.engine.model.tokenizer);
            if (tokens.length <= budget || turns.length <= 1) {
                if (tokens.length > budget)
                    throw new Error(`The message is ${tokens.length} tokens long but the context holds ${this.engine.context.contextSize}: shorten it or raise the context size.`);
                const { stopTokens, stopStrings } = this.stopTriggers(state.stopGenerationTriggers);
                return { tokens, stopTokens, stopStrings, dropped };
            }
            // Drop the oldest turn; never leave an assistant message first.
            turns = turns.slice(1);
            dropped++;
            while (turns.length > 1 && turns[0]!.role === "assistant") {
                turns = turns.slice(1);
                dropped++;
            }
        }
    }

    private stopTriggers(triggers: readonly LlamaText[]): { stopTokens: Token[]; stopStrings: string[] } {
        const stopTokens: Token[] = [];
        const stopStrings: string[] = [];
        for (const trigger of triggers) {
            const values = trigger.values;
            if (values.length === 1 && values[0] instanceof SpecialToken) {
                stopTokens.push(...trigger.tokenize(this.engine.model.tokenizer));
                continue;
            }
            const text = trigger.toString();
            if (text.length > 0) stopStrings.push(text);
        }
        return { stopTokens, stopStrings };
    }
}

function toHistory(messages: readonly ChatMessage[]): ChatHistoryItem[] {
    const history: ChatHistoryItem[] = messages.map((m) =>
        m.role === "system" ? { type: "system", text: m.content }
            : m.role === "user" ? { type: "user", text: m.content }
                : { type: "model", response: [m.content] });
    history.push({ type: "model", response: [] });
    return history;
}
