import { Template } from "@huggingface/jinja";
import type { Token } from "node-llama-cpp";
import { synthesizeModel } from "../gguf/synth.ts";
import { getRuntime } from "../runtime/llama-runtime.ts";
import { realVocabularyPath, type RealVocabularyName } from "./real-vocabularies.ts";

/**
 * A chat template in Llama 3's format, written for these tests (llama.cpp's llama-bpe vocabulary file
 * has none): `<|begin_of_text|>`, then each message as `<|start_header_id|>role<|end_header_id|>\n\n`,
 * its trimmed text and `<|eot_id|>`, and the assistant's header as the generation prompt.
 */
export const llama3StyleTemplate = [
    "{{- bos_token -}}",
    "{%- for message in messages -%}",
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' -}}",
    "{%- endfor -%}",
    "{%- if add_generation_prompt -%}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' -}}{%- endif -%}"
].join("");

/** A template that parses but fails on every conversation (it calls a function Jinja does not have). */
export const failingTemplate = "{% for message in messages %}{{ no_such_function(message['content']) }}{% endfor %}";

/**
 * A template that refuses a system message, as Gemma 2's and some Mistral templates do
 * (`raise_exception`), and renders everything else as ChatML.
 */
export const noSystemTemplate = [
    "{%- if messages[0]['role'] == 'system' -%}{{- raise_exception('System role not supported') -}}{%- endif -%}",
    "{%- for message in messages -%}{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' -}}{%- endfor -%}",
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
].join("");

/** What `synthesizeSayingModel` wrote. */
export interface SayingModel {
    out: string;
    /** The answer's tokens, as the model says them (its end of turn after them). */
    answerTokens: Token[];
    /** The template the model carries. */
    template: string;
}

/**
 * Synthesizes a small model (see `synthesizeModel`) with a real vocabulary that answers `answer` and then
 * ends its turn with `endOfTurn`: after the last token of its template's generation prompt, a chain in
 * its weights (`SynthModelOptions.chain`) says the answer's tokens and the end-of-turn token. Random
 * weights never end a turn by themselves; here llama.cpp still computes every logit and the engine draws
 * every token.
 */
export async function synthesizeSayingModel(options: {
    out: string;
    vocabulary: RealVocabularyName;
    /** Written in place of the vocabulary's template (llama-bpe's file has none). */
    chatTemplate?: string;
    answer: string;
    endOfTurn: string;
}): Promise<SayingModel> {
    const path = realVocabularyPath(options.vocabulary);
    const vocab = await (await getRuntime()).loadModel({ modelPath: path, vocabOnly: true });
    try {
        const template = options.chatTemplate ?? (vocab.fileInfo.metadata.tokenizer.chat_template as string);
        const piece = (t: Token | null) => (t == null ? "" : vocab.detokenize([t], true));
        const prompt = vocab.tokenize(new Template(template).render({ messages: [{ role: "user", content: "hi" }], bos_token: piece(vocab.tokens.bos), eos_token: piece(vocab.tokens.eos), add_generation_prompt: true }), true);
        const end = vocab.tokenize(options.endOfTurn, true);
        if (end.length !== 1) throw new Error(`${options.endOfTurn} is not one token in the ${options.vocabulary} vocabulary`);
        const answerTokens = vocab.tokenize(options.answer);
        await synthesizeModel({ out: options.out, vocabularyFrom: path, chatTemplate: options.chatTemplate, layers: 1, dim: 32, heads: 2, kvHeads: 1, type: "f16", chain: [prompt.at(-1)!, ...answerTokens, end[0]!] });
        return { out: options.out, answerTokens, template };
    } finally {
        await vocab.dispose();
    }
}
