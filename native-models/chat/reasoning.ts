import { Template } from "@huggingface/jinja";
import type { LlamaModel, Token } from "node-llama-cpp";

/** How a template marks a reasoning block in the model's output. */
export interface ReasoningMarkers {
    /** Opens the block (whitespace around it is not part of the reasoning). */
    open: string;
    close: string;
    /** A word the block starts with that names it rather than being part of it (Gemma 4's channel name). */
    label?: string;
}

/**
 * Reasoning blocks the chat templates of today's thinking models use: Qwen3, DeepSeek-R1 and most
 * others `<think>…</think>`; Gemma 4 a "thought" channel; Seed-OSS its own tags.
 */
const knownMarkers: readonly ReasoningMarkers[] = [
    { open: "<think>", close: "</think>" },
    { open: "<|channel>", close: "<channel|>", label: "thought" },
    { open: "<seed:think>", close: "</seed:think>" }
];

/** What a finished answer's reasoning was. */
export interface ReasoningPart {
    text: string;
    /** Output tokens up to the end of the block, its markers included. */
    tokens: number;
    /** From the answer's first token to the end of the block (or of the answer, when it never closed). */
    ms: number;
    /** False when the answer stopped while still reasoning (token budget, stop, abort). */
    ended: boolean;
}

/**
 * A chat template's reasoning rules, learnt by rendering the template itself (Jinja, as llama.cpp and
 * Hugging Face do) on a probe conversation: which markers it uses, whether its generation prompt opens
 * the block (the model starts inside it), closes an empty one (thinking off), or leaves it to the model,
 * and whether it takes `enable_thinking`. Past reasoning follows the template too: the chat session
 * hands it earlier answers with their reasoning and the template keeps or drops it.
 */
export class ReasoningTemplate {
    private readonly tails = new Map<string, string>();

    private constructor(
        private readonly template: Template,
        readonly markers: ReasoningMarkers,
        /** The template reads `enable_thinking`, so thinking can be switched per conversation. */
        readonly switchable: boolean,
        private readonly specialTokens: { bos: string; eos: string }
    ) {}

    /**
     * The reasoning rules of `source` (a Jinja chat template), or null when it has no reasoning part or
     * cannot be rendered (then answers are answers, as before).
     */
    static from(source: string | undefined | null, specialTokens: { bos?: string; eos?: string } = {}): ReasoningTemplate | null {
        if (source == null) return null;
        const markers = knownMarkers.find((m) => source.includes(m.close) && source.includes(m.open));
        if (markers == null) return null;
        try {
            const result = new ReasoningTemplate(new Template(source), markers, /\benable_thinking\b/.test(source), { bos: specialTokens.bos ?? "", eos: specialTokens.eos ?? "" });
            result.generationTail(undefined);
            return result;
        } catch {
            return null;
        }
    }

    /**
     * What the template's generation prompt adds after the last message (the assistant's header, and
     * an opened or an empty reasoning block), with thinking on, off, or as the template defaults.
     */
    generationTail(thinking: boolean | undefined): string {
        const key = String(thinking);
        let tail = this.tails.get(key);
        if (tail == null) {
            const render = (addGenerationPrompt: boolean) =>
                this.template.render({
                    messages: [{ role: "user", content: probe }],
                    add_generation_prompt: addGenerationPrompt,
                    bos_token: this.specialTokens.bos,
                    eos_token: this.specialTokens.eos,
                    ...(thinking == null ? {} : { enable_thinking: thinking })
                });
            const without = render(false), withPrompt = render(true);
            tail = withPrompt.startsWith(without) ? withPrompt.slice(without.length) : withPrompt.slice(withPrompt.lastIndexOf(probe) + probe.length);
            this.tails.set(key, tail);
        }
        return tail;
    }

    /** The generation prompt opens the block: the answer starts inside it. */
    opensInPrompt(thinking: boolean | undefined): boolean {
        const tail = this.generationTail(thinking);
        const open = tail.lastIndexOf(this.markers.open);
        return open >= 0 && !tail.includes(this.markers.close, open);
    }

    /** Whether the model reasons: not when the generation prompt carries a closed (empty) block. */
    thinks(thinking: boolean | undefined): boolean {
        const tail = this.generationTail(thinking);
        const open = tail.indexOf(this.markers.open);
        return !(open >= 0 && tail.includes(this.markers.close, open));
    }

    /** A splitter for an answer generated after this template's prompt. */
    splitter(thinking: boolean | undefined): ReasoningSplitter {
        return new ReasoningSplitter(this.markers, this.opensInPrompt(thinking));
    }

    /** An earlier answer as the model wrote it, reasoning included, for the template to keep or drop. */
    rawAnswer(answer: string, reasoning: string | undefined): string {
        if (reasoning == null || reasoning === "") return answer;
        return `${this.markers.open}${this.markers.label ?? ""}\n${reasoning}\n${this.markers.close}\n\n${answer}`;
    }
}

/** What the window and the API say about a model's thinking. */
export interface ThinkingSupport {
    /** The template takes `enable_thinking`: a conversation can turn thinking on or off. */
    switchable: boolean;
    /** The model thinks when nothing is asked (Qwen3 yes, Gemma 4 no). */
    defaultOn: boolean;
}

const templates = new WeakMap<LlamaModel, ReasoningTemplate | null>();

/** The reasoning rules of a model's own chat template (remembered per model), or null when it has no reasoning part. */
export function reasoningTemplateOf(model: LlamaModel): ReasoningTemplate | null {
    if (templates.has(model)) return templates.get(model)!;
    const template = model.fileInfo.metadata.tokenizer?.chat_template;
    const piece = (token: Token | null) => (token == null ? "" : model.detokenize([token], true));
    const rules = ReasoningTemplate.from(typeof template === "string" ? template : null, { bos: piece(model.tokens.bos), eos: piece(model.tokens.eos) });
    templates.set(model, rules);
    return rules;
}

/** Whether a model thinks and can be switched, for its info; null when its template has no reasoning part. */
export function thinkingSupportOf(model: LlamaModel): ThinkingSupport | null {
    const rules = reasoningTemplateOf(model);
    return rules == null ? null : { switchable: rules.switchable, defaultOn: rules.thinks(undefined) };
}

/** A text that no message holds, to find where the template's generation prompt starts. */
const probe = "\u0001presage-probe\u0001";

/** Text deltas of one stretch of output, apart. */
export interface SplitDelta {
    reasoning: string;
    answer: string;
}

/**
 * Splits a model's output text, as it streams, into its reasoning block and the answer after it, the
 * markers and the whitespace around them left out. The block is the output's start when the prompt
 * opened it, or when the output opens it before anything else; otherwise everything is answer. Text
 * that may still turn into a marker is held back until the next piece tells.
 */
export class ReasoningSplitter {
    private phase: "start" | "reasoning" | "answer";
    private pending = "";
    private reasoningText = "";
    private answerText = "";
    /** Characters of raw output consumed up to the end of the closing marker (-1 until it closes). */
    private closedAtChar = -1;
    private consumed = 0;
    /** Leading whitespace of a part is dropped as it streams. */
    private partStarted = false;
    private labelSeen = false;

    constructor(private readonly markers: ReasoningMarkers, openedByPrompt: boolean) {
        this.phase = openedByPrompt ? "reasoning" : "start";
    }

    /** Feeds the next piece of output text; returns what may be shown now. */
    push(text: string): SplitDelta {
        this.pending += text;
        return this.drain(false);
    }

    /** Ends the output: whatever was held back is shown. */
    finish(): SplitDelta {
        return this.drain(true);
    }

    get reasoning(): string {
        return this.reasoningText.trim();
    }

    get answer(): string {
        return this.answerText.trim();
    }

    /** Whether a reasoning block was seen (opened by the prompt or by the output). */
    get hadReasoning(): boolean {
        return this.phase === "reasoning" || this.closedAtChar >= 0;
    }

    /** Whether the output is inside its reasoning block now. */
    get inReasoning(): boolean {
        return this.phase === "reasoning";
    }

    /** Raw output characters up to the end of the closing marker, or -1 when it did not close. */
    get closedAt(): number {
        return this.closedAtChar;
    }

    private drain(final: boolean): SplitDelta {
        const out: SplitDelta = { reasoning: "", answer: "" };
        for (;;) {
            if (this.phase === "start") {
                const lead = this.pending.length - this.pending.trimStart().length;
                const rest = this.pending.slice(lead);
                if (rest.startsWith(this.markers.open)) {
                    this.take(lead + this.markers.open.length);
                    this.phase = "reasoning";
                    this.partStarted = false;
                    continue;
                }
                if (!final && this.markers.open.startsWith(rest)) return out;
                this.phase = "answer";
                this.partStarted = false;
                continue;
            }
            if (this.phase === "reasoning") {
                const label = this.markers.label;
                if (!this.partStarted && label != null && !this.labelSeen) {
                    const rest = this.pending.trimStart();
                    if (!final && rest.length < label.length + 1 && (label + "\n").startsWith(rest)) return out;
                    if (rest.startsWith(label) && /^\s/.test(rest.slice(label.length))) this.take(this.pending.length - rest.length + label.length);
                    this.labelSeen = true;
                }
                const close = this.pending.indexOf(this.markers.close);
                if (close >= 0) {
                    out.reasoning += this.emitPart(this.take(close), "reasoning");
                    this.take(this.markers.close.length);
                    this.closedAtChar = this.consumed;
                    this.phase = "answer";
                    this.partStarted = false;
                    continue;
                }
                const keep = final ? 0 : heldBack(this.pending, this.markers.close);
                out.reasoning += this.emitPart(this.take(this.pending.length - keep), "reasoning");
                return out;
            }
            out.answer += this.emitPart(this.take(this.pending.length), "answer");
            return out;
        }
    }

    private take(chars: number): string {
        const text = this.pending.slice(0, chars);
        this.pending = this.pending.slice(chars);
        this.consumed += text.length;
        return text;
    }

    private emitPart(text: string, part: "reasoning" | "answer"): string {
        if (!this.partStarted) {
            text = text.trimStart();
            if (text === "") return "";
            this.partStarted = true;
        }
        if (part === "reasoning") this.reasoningText += text;
        else this.answerText += text;
        return text;
    }
}

/** Length of the longest end of `text` that starts `marker` (it may become the marker with more text). */
function heldBack(text: string, marker: string): number {
    for (let k = Math.min(marker.length - 1, text.length); k > 0; k--) if (text.endsWith(marker.slice(0, k))) return k;
    return 0;
}
