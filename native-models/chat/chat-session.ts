import { LlamaText, SpecialToken, SpecialTokensText, type ChatHistoryItem, type ChatWrapper, type Token } from "node-llama-cpp";
import type { GenerateRequest, GenerateResult, PresageEngine } from "../engine/presage-engine.ts";
import { EngineError } from "../engine-error.ts";
import { countTokens, Pauser } from "./token-count.ts";
import { modelChatWrapper, type ChatTemplateInfo } from "./chat-template.ts";
import { ReasoningAnswer } from "./reasoning-answer.ts";
import { reasoningTemplateOf, type ReasoningPart, type ReasoningTemplate } from "./reasoning.ts";

export interface ChatMessage {
    role: "system" | "user" | "assistant";
    content: string;
    /** An assistant message's reasoning, apart from its answer (`content`); the template keeps or drops it. */
    reasoning?: string;
}

/** What a chat answer request carries besides the messages. */
export type ChatRequest = Omit<GenerateRequest, "prompt"> & {
    /**
     * Thinking on or off, for templates that take `enable_thinking`; undefined leaves the template's
     * default (Qwen3's on, Gemma 4's off).
     */
    thinking?: boolean;
};

/** A chat prompt ready for the engine. */
export interface BuiltPrompt {
    tokens: Token[];
    /** The template's end-of-turn triggers, as tokens and as text. */
    stopTokens: Token[];
    stopStrings: string[];
    /** Earlier messages left out to fit the context. */
    dropped: number;
}

export interface ChatResult extends GenerateResult {
    /** Earlier messages dropped to fit the context (oldest first). */
    droppedMessages: number;
    /** The answer's reasoning block, apart from `text` (the answer); null when it had none. */
    reasoning: ReasoningPart | null;
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
    /** Which template the prompts use; `note` says in one line when the model's own failed to render. */
    readonly template: ChatTemplateInfo;
    /** The template's reasoning rules; null when it has no reasoning part. */
    readonly reasoning: ReasoningTemplate | null;
    private readonly thinkingWrappers = new Map<string, ChatWrapper>();
    /** Token counts of message texts seen lately, least recently used first. */
    private readonly counts = new Map<string, number>();
    private cost: { base: number; perMessage: number } | null = null;

    constructor(private readonly engine: PresageEngine) {
        this.reasoning = reasoningTemplateOf(engine.model);
        const { wrapper, info } = modelChatWrapper(engine.model, this.templateOptions(undefined));
        this.wrapper = wrapper;
        this.template = info;
        if (info.note != null) console.warn(`presage: ${info.note}`);
    }

    /** How the model's template is rendered: past reasoning as the template takes it, failures told once. */
    private templateOptions(enableThinking: boolean | undefined) {
        const reasoning = this.reasoning;
        return {
            enableThinking,
            ...(reasoning == null ? {} : { assistantContent: (answer: string, thought: string | undefined) => reasoning.rawAnswer(answer, thought) }),
            onFallback: (note: string) => console.warn(`presage: ${note}`)
        };
    }

    /**
     * The wrapper for a prompt: a template with a reasoning part is rendered as Jinja with
     * `enable_thinking` as asked (node-llama-cpp's own wrappers for these families add thinking markers
     * of their own), every other one as before.
     */
    private wrapperFor(thinking: boolean | undefined): ChatWrapper {
        if (this.reasoning == null) return this.wrapper;
        const key = String(this.reasoning.switchable ? thinking : undefined);
        let wrapper = this.thinkingWrappers.get(key);
        if (wrapper == null) {
            wrapper = modelChatWrapper(this.engine.model, this.templateOptions(key === "undefined" ? undefined : key === "true")).wrapper;
            this.thinkingWrappers.set(key, wrapper);
        }
        return wrapper;
    }

    get templateName(): string {
        return this.wrapper.wrapperName;
    }

    /** Answers the last user message of `messages`. Queued behind other requests on the engine. */
    respond(messages: readonly ChatMessage[], request: ChatRequest = {}): Promise<ChatResult> {
        return this.engine.exclusive(() => this.respondNow(messages, request));
    }

    /** `respond` without queueing, for callers that already own the engine's sequence (the app's queue). */
    async respondNow(messages: readonly ChatMessage[], request: ChatRequest = {}): Promise<ChatResult> {
        const maxTokens = request.maxTokens ?? 256;
        const { thinking, ...generate } = request;
        const { tokens, stopTokens, stopStrings, dropped } = await this.buildPrompt(messages, maxTokens, thinking);
        const reasoning = this.reasoning == null ? null : new ReasoningAnswer(this.reasoning.splitter(thinking));
        const result = await this.engine.generateNow(tokens, {
            ...generate,
            maxTokens,
            stopStrings: [...(request.stopStrings ?? []), ...stopStrings],
            stopTokens: [...(request.stopTokens ?? []), ...stopTokens],
            ...(reasoning == null ? {} : { onStep: reasoning.onStep(request.onStep) })
        });
        if (reasoning == null) return { ...result, text: result.text.trim(), droppedMessages: dropped, reasoning: null };
        const split = reasoning.finish(this.engine.model, result);
        return { ...result, text: split.text, droppedMessages: dropped, reasoning: split.reasoning };
    }

    /**
     * The prompt tokens for answering `messages`: the system messages and the longest run of newest
     * turns (never starting with an assistant message) that leaves room for `maxTokens` more.
     *
     * Each message's content is tokenized once (and remembered across calls, since clients resend
     * the whole conversation every turn), newest first until the context is full, so the cost grows
     * with what fits rather than with the history's length; the estimate is then checked on the
     * rendered template, a few renders of at most a context's worth of text. The work yields to the
     * event loop every few milliseconds so that one long request does not stall the server.
     */
    async buildPrompt(messages: readonly ChatMessage[], maxTokens: number, thinking?: boolean): Promise<BuiltPrompt> {
        if (messages.length === 0 || messages[messages.length - 1]!.role !== "user")
            throw new EngineError("invalid-prompt", "A chat answer needs a conversation that ends with a user message.");
        const pause = new Pauser();
        const system = messages.filter((m) => m.role === "system");
        const turns = messages.filter((m) => m.role !== "system");
        const contextSize = this.engine.context.contextSize;
        const budget = contextSize - Math.min(maxTokens, Math.floor(contextSize / 2)) - 2;
        const tooLong = (tokens: number, exact: boolean) =>
            new EngineError("context-overflow", `The message is ${exact ? "" : "more than "}${tokens} tokens long but the context holds ${contextSize}: shorten it or raise the context size.`);

        // Where a prompt may start: a user turn, never an assistant's answer without its question.
        const starts: number[] = [];
        turns.forEach((m, i) => {
            if (m.role !== "assistant") starts.push(i);
        });
        const { base, perMessage } = this.templateCost();
        // Far over the budget on estimate alone: refuse before rendering (and tokenizing) all of it.
        const ceiling = budget + Math.max(16, Math.floor(budget / 4));
        const clearlyTooLong = (tokens: number) => tokens > ceiling;
        let estimate = base;
        for (const m of system) {
            estimate += perMessage + await this.countTokens(m.content, ceiling - estimate, pause);
            if (clearlyTooLong(estimate)) throw tooLong(budget, false);
        }
        let guess = turns.length - 1;
        for (let i = turns.length - 1; i >= 0; i--) {
            estimate += perMessage + await this.countTokens(turns[i]!.content, ceiling - estimate, pause);
            if (estimate > budget) {
                if (i === turns.length - 1 && clearlyTooLong(estimate)) throw tooLong(budget, false);
                break;
            }
            guess = i;
        }

        // fits() shrinks as the prompt starts earlier: gallop from the estimate, then bisect.
        const rendered = new Map<number, { state: ReturnType<ChatWrapper["generateContextState"]>; tokens: Token[] }>();
        const render = async (at: number) => {
            let r = rendered.get(at);
            if (r == null) {
                await pause.maybe();
                const state = this.wrapperFor(thinking).generateContextState({ chatHistory: toHistory([...system, ...turns.slice(starts[at])]) });
                const text = this.reasoning == null ? state.contextText : withGenerationTail(state.contextText, this.reasoning.generationTail(thinking));
                r = { state, tokens: text.tokenize(this.engine.model.tokenizer) };
                rendered.set(at, r);
            }
            return r;
        };
        const fits = async (at: number) => (await render(at)).tokens.length <= budget;
        const last = starts.length - 1;
        let at = starts.findIndex((s) => s >= guess);
        if (at < 0) at = last;
        let best: number;
        if (await fits(at)) {
            // Extend towards older turns while they fit.
            let lo = at, step = 1;
            best = at;
            for (;;) {
                const next = Math.max(0, best - step);
                if (next === best) break;
                if (await fits(next)) {
                    best = next;
                    step *= 2;
                } else {
                    lo = next;
                    break;
                }
            }
            if (best > 0 && lo < best) best = await this.bisect(lo, best, fits);
        } else {
            // Drop turns until it fits; the latest message alone must.
            let hi = at, step = 1;
            for (;;) {
                const next = Math.min(last, hi + step);
                if (await fits(next)) {
                    best = await this.bisect(hi, next, fits);
                    break;
                }
                if (next === last) throw tooLong((await render(last)).tokens.length, true);
                hi = next;
                step *= 2;
            }
        }
        const { state, tokens } = (await render(best))!;
        const { stopTokens, stopStrings } = this.stopTriggers(state.stopGenerationTriggers);
        return { tokens, stopTokens, stopStrings, dropped: starts[best]! };
    }

    /** The smallest index in (fails, fitting] that fits, given that `fails` does not and `fitting` does. */
    private async bisect(fails: number, fitting: number, fits: (at: number) => Promise<boolean>): Promise<number> {
        while (fitting - fails > 1) {
            const mid = (fails + fitting) >> 1;
            if (await fits(mid)) fitting = mid;
            else fails = mid;
        }
        return fitting;
    }

    /**
     * Tokens of a message's text, or a number above `limit` once it is clearly longer. Long texts are
     * counted a slice at a time (slice edges may shift a token or two: it is an estimate, checked later).
     */
    private async countTokens(text: string, limit: number, pause: Pauser): Promise<number> {
        const cached = this.counts.get(text);
        if (cached != null) {
            // Refresh its place: least recently used entries leave first.
            this.counts.delete(text);
            this.counts.set(text, cached);
            return cached;
        }
        const { count, whole } = await countTokens(this.engine.model, text, limit, pause);
        if (whole && text.length <= maxCachedChars) {
            this.counts.set(text, count);
            if (this.counts.size > maxCachedCounts) this.counts.delete(this.counts.keys().next().value!);
        }
        return count;
    }

    /** What the template adds: once per prompt (`base`) and per message, measured once on this model. */
    private templateCost(): { base: number; perMessage: number } {
        if (this.cost == null) {
            const length = (messages: ChatMessage[]) =>
                this.wrapper.generateContextState({ chatHistory: toHistory(messages) }).contextText.tokenize(this.engine.model.tokenizer).length;
            const text = (t: string) => this.engine.model.tokenize(t, false).length;
            const one = length([{ role: "user", content: "c" }]);
            const three = length([{ role: "user", content: "a" }, { role: "assistant", content: "b" }, { role: "user", content: "c" }]);
            const perMessage = Math.max(0, Math.round((three - one - text("a") - text("b")) / 2));
            this.cost = { base: Math.max(0, one - text("c") - perMessage), perMessage };
        }
        return this.cost;
    }

    private stopTriggers(triggers: readonly LlamaText[]): { stopTokens: Token[]; stopStrings: string[] } {
        const stopTokens: Token[] = [];
        const stopStrings: string[] = [];
        const model = this.engine.model;
        for (const trigger of triggers) {
            const values = trigger.values;
            if (values.length === 1 && values[0] instanceof SpecialToken) {
                stopTokens.push(...trigger.tokenize(model.tokenizer));
                continue;
            }
            // An end of turn that starts with a special token (`<|im_end|>`, `<turn|>\n`) ends at that token:
            // its text never appears in detokenized output, so as a stop string alone it would never match.
            const first = trigger.tokenize(model.tokenizer)[0];
            if (first != null && model.isSpecialToken(first) && !stopTokens.includes(first)) stopTokens.push(first);
            // The text too, for a model that spells it out in ordinary pieces.
            const text = trigger.toString();
            if (text.length > 0 && !stopStrings.includes(text)) stopStrings.push(text);
        }
        return { stopTokens, stopStrings };
    }
}

function toHistory(messages: readonly ChatMessage[]): ChatHistoryItem[] {
    const history: ChatHistoryItem[] = messages.map((m) =>
        m.role === "system" ? { type: "system", text: m.content }
            : m.role === "user" ? { type: "user", text: m.content }
                : { type: "model", response: m.reasoning ? [{ type: "segment", segmentType: "thought", text: m.reasoning, ended: true }, m.content] : [m.content] });
    history.push({ type: "model", response: [] });
    return history;
}

/**
 * node-llama-cpp's Jinja wrapper ends the prompt at the assistant's header and leaves the rest of the
 * template's generation prompt (an opened `<think>` block, or the empty block that turns thinking
 * off) to its own chat loop, which Presage does not use: add what the template would have rendered.
 */
function withGenerationTail(text: LlamaText, tail: string): LlamaText {
    const rendered = text.toString();
    for (let k = tail.length; k > 0; k--)
        if (rendered.endsWith(tail.slice(0, k))) return k === tail.length ? text : LlamaText([text, new SpecialTokensText(tail.slice(k))]);
    return text;
}

/** Longer texts are not remembered (a few of them would outweigh thousands of ordinary messages). */
const maxCachedChars = 64 * 1024;
const maxCachedCounts = 4096;
