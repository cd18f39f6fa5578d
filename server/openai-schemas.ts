import { z } from "zod";
import { parseStrategies } from "../native-models/engine/strategy.ts";
import type { StrategyName } from "../core/app-api.ts";
import { strategyNameSchema } from "../core/schemas.ts";

/**
 * OpenAI request bodies, as far as Presage honours them. Unknown fields are ignored (clients send
 * many); known ones are type-checked. Extras: `strategies`, `exact`, `top_k`, `min_p`, `repeat_penalty`.
 */

const strategies = z.union([
    z.array(strategyNameSchema).min(1).max(10),
    z.string().transform((s, ctx): StrategyName[] => {
        try {
            return parseStrategies(s);
        } catch (err) {
            ctx.addIssue({ code: "custom", message: (err as Error).message.replace(/\.$/, "") });
            return z.NEVER;
        }
    })
]);

const common = {
    model: z.string().max(1000).optional(),
    max_tokens: z.number().int().min(1).max(1_000_000).nullable().optional(),
    temperature: z.number().min(0).max(2).nullable().optional(),
    top_p: z.number().min(0).max(1).nullable().optional(),
    top_k: z.number().int().min(0).max(100_000).nullable().optional(),
    min_p: z.number().min(0).max(1).nullable().optional(),
    seed: z.number().int().nullable().optional(),
    stop: z.union([z.string(), z.array(z.string()).max(16)]).nullable().optional(),
    frequency_penalty: z.number().min(-2).max(2).nullable().optional(),
    presence_penalty: z.number().min(-2).max(2).nullable().optional(),
    repeat_penalty: z.number().min(0).max(10).nullable().optional(),
    n: z.literal(1, { message: "only n = 1 is supported" }).nullable().optional(),
    stream: z.boolean().nullable().optional(),
    stream_options: z.object({ include_usage: z.boolean().optional() }).nullable().optional(),
    logprobs: z.literal(false, { message: "logprobs are not supported" }).nullable().optional(),
    strategies: strategies.optional(),
    /** Exact mode for this request (default: the setting). */
    exact: z.boolean().nullable().optional()
};

/**
 * Most messages one chat request may carry. The prompt builder reads only as many of the newest as
 * fit the context, but validating and holding many thousands is work no client needs done.
 */
export const maxMessages = 2048;

const textPart = z.object({ type: z.literal("text"), text: z.string() });
const content = z.union([
    z.string(),
    z.array(z.union([textPart, z.object({ type: z.string() }).transform((p, ctx) => {
        ctx.addIssue({ code: "custom", message: `"${p.type}" content is not supported, only text` });
        return z.NEVER;
    })])).transform((parts) => parts.map((p) => (p as { text: string }).text).join("")),
    z.null().transform(() => "")
], { error: "content must be a string or an array of text parts" });

const message = z.object({
    role: z.enum(["system", "developer", "user", "assistant"], { message: 'role must be "system", "developer", "user" or "assistant" (tools are not supported)' }),
    content,
    /** An earlier answer's reasoning, as this API returned it: the chat template keeps or drops it. */
    reasoning_content: z.string().nullable().optional()
});

export const chatCompletionSchema = z.object({
    ...common,
    messages: z.array(message)
        .min(1, { message: "give at least one message" })
        .max(maxMessages, { message: `at most ${maxMessages} messages are accepted; send only the recent part of a longer conversation` }),
    max_completion_tokens: z.number().int().min(1).max(1_000_000).nullable().optional(),
    tools: z.array(z.unknown()).max(0, { message: "tools are not supported" }).nullable().optional(),
    response_format: z.object({ type: z.literal("text", { message: "only the text response format is supported" }) }).nullable().optional(),
    /**
     * Variables for the chat template, as llama-server takes them; Presage reads `enable_thinking`
     * (thinking on or off where the template supports it) and ignores the others.
     */
    chat_template_kwargs: z.object({ enable_thinking: z.boolean({ message: "chat_template_kwargs.enable_thinking must be true or false" }).nullable().optional() }).nullable().optional()
}).refine((r) => r.messages.length === 0 || r.messages.at(-1)?.role === "user", { message: "the last message must be the user's", path: ["messages"] });

export const completionSchema = z.object({
    ...common,
    prompt: z.union([z.string(), z.array(z.string()).length(1, { message: "send one prompt per request" }).transform((a) => a[0]!)]),
    echo: z.literal(false, { message: "echo is not supported" }).nullable().optional(),
    suffix: z.null({ message: "suffix is not supported" }).optional()
});

export type ChatCompletionRequest = z.output<typeof chatCompletionSchema>;
export type CompletionRequest = z.output<typeof completionSchema>;
