import { existsSync, mkdirSync, renameSync } from "node:fs";
import { open } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { GgmlType } from "../gguf/ggml-types.ts";
import { kv, type GgufMetadata } from "../gguf/gguf-metadata.ts";
import { readGgufFile, requireTensor } from "../gguf/gguf-reader.ts";
import { writeGgufFile } from "../gguf/gguf-writer.ts";
import { synthesizeModel, type SynthModelOptions } from "../gguf/synth.ts";
import { TokenType } from "../gguf/synth-vocabulary.ts";
import { presageCacheDir } from "../models-dir.ts";
import { realVocabularyPath } from "./real-vocabularies.ts";

/**
 * A chat template in Qwen3's thinking convention, written for these tests (no Qwen3 template is on
 * this machine): ChatML turns; an assistant message's `<think>…</think>` part (or its
 * `reasoning_content`) is dropped from every turn before the last user message; with `enable_thinking`
 * false the generation prompt carries an empty `<think>\n\n</think>\n\n` block, as Qwen3's does.
 * Unlike Qwen3's own, thinking on opens `<think>\n` in the generation prompt (as Qwen3's thinking-only
 * releases do), so a random-weight model is honestly inside a reasoning block from its first token.
 */
export const qwen3StyleTemplate = [
    "{%- set ns = namespace(last_user=-1) -%}",
    "{%- for message in messages -%}{%- if message.role == 'user' -%}{%- set ns.last_user = loop.index0 -%}{%- endif -%}{%- endfor -%}",
    "{%- for message in messages -%}",
    "{%- if message.role == 'assistant' -%}",
    "{%- set content = message.content -%}",
    "{%- set reasoning = message.reasoning_content if message.reasoning_content is defined and message.reasoning_content else '' -%}",
    "{%- if '</think>' in content -%}",
    "{%- set reasoning = content.split('</think>')[0].split('<think>')[-1].strip('\\n') -%}",
    "{%- set content = content.split('</think>')[-1].lstrip('\\n') -%}",
    "{%- endif -%}",
    "{{- '<|im_start|>assistant\\n' -}}",
    "{%- if loop.index0 > ns.last_user and reasoning -%}{{- '<think>\\n' + reasoning + '\\n</think>\\n\\n' -}}{%- endif -%}",
    "{{- content + '<|im_end|>\\n' -}}",
    "{%- else -%}",
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>\\n' -}}",
    "{%- endif -%}",
    "{%- endfor -%}",
    "{%- if add_generation_prompt -%}",
    "{{- '<|im_start|>assistant\\n' -}}",
    "{%- if enable_thinking is defined and enable_thinking is false -%}{{- '<think>\\n\\n</think>\\n\\n' -}}{%- else -%}{{- '<think>\\n' -}}{%- endif -%}",
    "{%- endif -%}"
].join("");

/** Where Qwen3's tokenizer has its two thinking tokens (padding slots in Qwen2's). */
export const qwen3ThinkTokens = { open: 151667, close: 151668 } as const;

/**
 * A vocabulary-only GGUF with Qwen3's tokenizer layout: llama.cpp's qwen2 vocabulary (the same BPE
 * pieces and merges) with `<think>` and `</think>` as user-defined tokens in the slots Qwen3 has them,
 * and `qwen3StyleTemplate`. Written once into the cache beside the extracted vocabularies.
 */
export async function qwen3StyleVocabularyPath(): Promise<string> {
    const source = realVocabularyPath("qwen2");
    const dir = join(presageCacheDir(), "llama-vocab");
    const out = join(dir, "qwen3-style-vocab.gguf");
    if (existsSync(out)) return out;
    mkdirSync(dir, { recursive: true });
    const file = await readGgufFile(source);
    const metadata: GgufMetadata = {};
    for (const [key, entry] of Object.entries(file.metadata)) if (key.startsWith("tokenizer.")) metadata[key] = entry;
    const tokens = [...(metadata["tokenizer.ggml.tokens"]!.value as string[])];
    const types = [...(metadata["tokenizer.ggml.token_type"]!.value as number[])];
    tokens[qwen3ThinkTokens.open] = "<think>";
    tokens[qwen3ThinkTokens.close] = "</think>";
    types[qwen3ThinkTokens.open] = TokenType.USER_DEFINED;
    types[qwen3ThinkTokens.close] = TokenType.USER_DEFINED;
    metadata["tokenizer.ggml.tokens"] = kv.strings(tokens);
    metadata["tokenizer.ggml.token_type"] = kv.i32s(types);
    metadata["tokenizer.chat_template"] = kv.string(qwen3StyleTemplate);
    const partial = `${out}.${process.pid}.${randomBytes(4).toString("hex")}.partial`;
    await writeGgufFile(partial, { metadata: { "general.architecture": kv.string("llama"), ...metadata }, tensors: [] });
    renameSync(partial, out);
    return out;
}

/**
 * Synthesizes an F32 model (see `synthesizeModel`) whose output head favours `favour`: each listed
 * token's output row is scaled by its factor, so the model really draws those tokens now and then (a
 * random-weight model never thinks by itself, and `synthesizeModel` zeroes the rows of non-normal
 * tokens such as `</think>`). The target still decides every token in llama.cpp; only its weights
 * were chosen.
 */
export async function synthesizeFavouringModel(options: Omit<SynthModelOptions, "type">, favour: Readonly<Record<number, number>>): Promise<void> {
    await synthesizeModel({ ...options, type: "f32" });
    const file = await readGgufFile(options.out);
    const output = requireTensor(file, "output.weight");
    if (output.type !== GgmlType.F32) throw new Error(`${options.out}: output.weight is ${output.typeName}, not F32`);
    const dim = output.shape[0]!;
    const handle = await open(options.out, "r+");
    try {
        for (const [token, scale] of Object.entries(favour)) {
            // The row is zero for non-normal tokens: give it the seeded random row of a normal token scaled.
            const source = Buffer.alloc(dim * 4);
            await handle.read(source, 0, source.length, output.offset + favourDonorRow(Number(token), output.shape[1]!) * dim * 4);
            const row = new Float32Array(source.buffer, source.byteOffset, dim).map((w) => w * scale);
            await handle.write(Buffer.from(row.buffer), 0, dim * 4, output.offset + Number(token) * dim * 4);
        }
    } finally {
        await handle.close();
    }
}

/** A normal token's row to take for a favoured token whose own row is zero (a fixed, distinct one per token). */
function favourDonorRow(token: number, vocabularySize: number): number {
    return (token * 7919 + 1000) % Math.min(vocabularySize, 100_000);
}
