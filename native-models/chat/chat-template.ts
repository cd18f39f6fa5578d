import { basename } from "node:path";
import { Template } from "@huggingface/jinja";
import {
    ChatWrapper,
    GeneralChatWrapper,
    LlamaText,
    resolveChatWrapper,
    SpecialToken,
    SpecialTokensText,
    type ChatHistoryItem,
    type ChatWrapperGenerateContextStateOptions,
    type ChatWrapperGeneratedContextState,
    type LlamaModel
} from "node-llama-cpp";

/** One message as chat templates take it (Hugging Face's `messages`). */
export interface TemplateMessage {
    role: "system" | "user" | "assistant";
    content: string;
}

/** What the app may say about the template a model's chats use (model info, a console line). */
export interface ChatTemplateInfo {
    /** "the model's template", or the fallback's name. */
    name: string;
    /** One line when the model's template could not be used and a plain transcript is used instead. */
    note: string | null;
}

/**
 * A model's own Jinja chat template (`tokenizer.chat_template`), rendered as llama.cpp's server and
 * Hugging Face render it: the real messages, `bos_token`/`eos_token`, `add_generation_prompt`, and the
 * result tokenized with special tokens (with a BOS before it where the vocabulary adds one and the
 * template did not write it, as llama.cpp's server does). node-llama-cpp's wrappers do not always give the same tokens:
 * its specialized ones are its own format for the family (a BOS that Qwen's template never writes, no
 * default system prompt), and its Jinja wrapper puts message texts in after rendering, so what a template
 * does to them (Gemma 4 trims them) is lost, and it folds a system prompt the template drops (Phi-3) into
 * the first user turn.
 */
export class ModelChatTemplate {
    /** What follows an assistant message in this template (e.g. `<|im_end|>\n`), "" if it cannot tell. */
    readonly turnSuffix: string;

    /** Use `ModelChatTemplate.of(model)`: it checks the template renders, once per model. */
    constructor(
        private readonly template: Template,
        readonly source: string,
        private readonly specialTokens: { bos: string; eos: string }
    ) {
        this.turnSuffix = this.findTurnSuffix();
    }

    /**
     * The model's template, or why it cannot be used (it is missing, does not parse, or fails on a plain
     * user message): the caller falls back to node-llama-cpp's choice or a plain transcript. Cached per model.
     */
    static of(model: LlamaModel): { template: ModelChatTemplate | null; problem: string | null } {
        let found = cache.get(model);
        if (found == null) {
            found = load(model);
            cache.set(model, found);
        }
        return found;
    }

    /** The prompt text for `messages`, ending with the generation prompt. Throws what the template throws. */
    render(messages: readonly TemplateMessage[], options: { enableThinking?: boolean; addGenerationPrompt?: boolean } = {}): string {
        return this.template.render({
            messages: messages.map((m) => ({ role: m.role, content: m.content })),
            bos_token: this.specialTokens.bos,
            eos_token: this.specialTokens.eos,
            add_generation_prompt: options.addGenerationPrompt ?? true,
            ...(options.enableThinking == null ? {} : { enable_thinking: options.enableThinking })
        });
    }

    private findTurnSuffix(): string {
        const probe = "presage-probe-answer";
        try {
            const text = this.render([{ role: "user", content: "hi" }, { role: "assistant", content: probe }], { addGenerationPrompt: false });
            const at = text.lastIndexOf(probe);
            return at < 0 ? "" : text.slice(at + probe.length);
        } catch {
            // Some templates insist on ending with a user turn: the model's end-of-generation tokens still stop it.
            return "";
        }
    }
}

const cache = new WeakMap<LlamaModel, { template: ModelChatTemplate | null; problem: string | null }>();

function load(model: LlamaModel): { template: ModelChatTemplate | null; problem: string | null } {
    const source = model.fileInfo.metadata.tokenizer?.chat_template;
    if (typeof source !== "string" || source.trim() === "") return { template: null, problem: null };
    const piece = (token: number | null) => (token == null ? "" : model.detokenize([token as never], true));
    try {
        const template = new ModelChatTemplate(new Template(source), source, { bos: piece(model.tokens.bos), eos: piece(model.tokens.eos) });
        template.render([{ role: "user", content: "hi" }]);
        return { template, problem: null };
    } catch (err) {
        return { template: null, problem: oneLine(err) };
    }
}

/** An error's message as one short line (template errors can carry the template's source). */
function oneLine(err: unknown): string {
    const text = (err instanceof Error ? err.message : String(err)).replace(/\s+/g, " ").trim();
    return text.length > 160 ? `${text.slice(0, 157)}...` : text;
}

/** The line that says a model's template failed and what is used instead. */
function failedTemplateNote(model: LlamaModel, problem: string): string {
    return `The chat template of ${basename(model.filename ?? "the model")} failed to render (${problem}): answering with a plain transcript instead.`;
}

export interface ModelTemplateChatWrapperOptions {
    /** `enable_thinking` for the template; undefined leaves the template's default. */
    enableThinking?: boolean;
    /** An assistant message's content as the template takes it, from its answer and reasoning (default: the answer). */
    assistantContent?: (answer: string, reasoning: string | undefined) => string;
    /** Told once per distinct problem when a conversation fails to render and a plain transcript is used. */
    onFallback?: (note: string) => void;
}

/**
 * A node-llama-cpp chat wrapper that renders the model's own template (see `ModelChatTemplate`), so the
 * chat path keeps its shape (`generateContextState`, stop triggers) with the model's exact prompt. A
 * conversation the template refuses (a `raise_exception`, say) is rendered as a plain transcript
 * instead, and `onFallback` is told in one line.
 */
export class ModelTemplateChatWrapper extends ChatWrapper {
    readonly wrapperName = "the model's template";
    private readonly fallback = new GeneralChatWrapper();
    private readonly told = new Set<string>();

    constructor(
        private readonly model: LlamaModel,
        readonly template: ModelChatTemplate,
        private readonly options: ModelTemplateChatWrapperOptions = {}
    ) {
        super();
    }

    override generateContextState(state: ChatWrapperGenerateContextStateOptions): ChatWrapperGeneratedContextState {
        const messages = toTemplateMessages(state.chatHistory, this.options.assistantContent);
        let text: string;
        try {
            text = this.template.render(messages, { enableThinking: this.options.enableThinking });
        } catch (err) {
            const note = failedTemplateNote(this.model, oneLine(err));
            if (!this.told.has(note)) {
                this.told.add(note);
                this.options.onFallback?.(note);
            }
            return this.fallback.generateContextState(state);
        }
        const suffix = this.template.turnSuffix.trim();
        // As llama.cpp's server: a model whose vocabulary adds BOS gets one when its template did not write it.
        const bos = this.model.tokens.bos;
        const addBos = this.model.tokens.shouldPrependBosToken && bos != null && !text.startsWith(this.model.detokenize([bos], true));
        return {
            contextText: addBos ? LlamaText([new SpecialToken("BOS"), new SpecialTokensText(text)]) : LlamaText(new SpecialTokensText(text)),
            stopGenerationTriggers: [LlamaText(new SpecialToken("EOS")), ...(suffix === "" ? [] : [LlamaText(new SpecialTokensText(suffix))])]
        };
    }
}

/**
 * The chat wrapper for `model`: its own template where it has one that renders; node-llama-cpp's choice
 * where it has none; a plain transcript (node-llama-cpp's general format) where its template fails, with
 * `info.note` saying so in one line.
 */
export function modelChatWrapper(model: LlamaModel, options: ModelTemplateChatWrapperOptions = {}): { wrapper: ChatWrapper; info: ChatTemplateInfo } {
    const { template, problem } = ModelChatTemplate.of(model);
    if (template != null) return { wrapper: new ModelTemplateChatWrapper(model, template, options), info: { name: "the model's template", note: null } };
    if (problem != null) {
        const wrapper = new GeneralChatWrapper();
        return { wrapper, info: { name: "plain transcript", note: failedTemplateNote(model, problem) } };
    }
    const wrapper = resolveChatWrapper(model, { noJinja: true });
    return { wrapper, info: { name: wrapper.wrapperName, note: null } };
}

/** What the app reports about a model's chat template (see `modelChatWrapper`). */
export function chatTemplateInfo(model: LlamaModel): ChatTemplateInfo {
    // Asked after every answer (the engine process reports the model's info with each): worked out once.
    let info = infoCache.get(model);
    if (info == null) {
        const { template, problem } = ModelChatTemplate.of(model);
        info = template != null ? { name: "the model's template", note: null }
            : problem != null ? { name: "plain transcript", note: failedTemplateNote(model, problem) }
                : { name: resolveChatWrapper(model, { noJinja: true }).wrapperName, note: null };
        infoCache.set(model, info);
    }
    return info;
}

const infoCache = new WeakMap<LlamaModel, ChatTemplateInfo>();

/** node-llama-cpp's chat history as template messages; the trailing empty model turn is the generation prompt. */
function toTemplateMessages(history: readonly ChatHistoryItem[], assistantContent?: (answer: string, reasoning: string | undefined) => string): TemplateMessage[] {
    const items = history.at(-1)?.type === "model" && (history.at(-1) as { response: unknown[] }).response.length === 0 ? history.slice(0, -1) : history;
    return items.map((item): TemplateMessage => {
        if (item.type === "system") return { role: "system", content: typeof item.text === "string" ? item.text : LlamaText.fromJSON(item.text).toString() };
        if (item.type === "user") return { role: "user", content: item.text };
        let answer = "", reasoning: string | undefined;
        for (const part of item.response) {
            if (typeof part === "string") answer += part;
            else if (part.type === "segment" && part.segmentType === "thought") reasoning = (reasoning ?? "") + part.text;
        }
        return { role: "assistant", content: assistantContent == null ? answer : assistantContent(answer, reasoning) };
    });
}
