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
