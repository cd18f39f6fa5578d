import type { ChatMessage } from "../native-models/chat/chat-session.ts";
import type { GenerationOptions, GenerationResult, GenerationService } from "../core/generation-service.ts";
import type { ModelService } from "../core/model-service.ts";
import { ServiceError } from "../core/service-error.ts";
import { validate } from "../core/validation.ts";
import { HttpError, errorBody, toHttpError } from "./http-error.ts";
import { chatCompletionSchema, completionSchema, type ChatCompletionRequest, type CompletionRequest } from "./openai-schemas.ts";
import { completionIds, finishReason, modelId, speculative, usage } from "./openai-shapes.ts";
import { readJsonBody } from "./request-body.ts";
import { sendJson, type Route, type RouteContext } from "./router.ts";
import { SseWriter } from "./sse-writer.ts";

export interface OpenAiRoutesOptions {
    models: ModelService;
    generation: GenerationService;
    maxBodyBytes: number;
}

/**
 * The OpenAI-compatible API: `GET /v1/models`, `POST /v1/chat/completions`, `POST /v1/completions`,
 * streamed (SSE `data:` chunks, then `data: [DONE]`) or not, with `usage` and Presage's `speculative`
 * object (in the last chunk when streaming).
 */
export function openAiRoutes({ models, generation, maxBodyBytes }: OpenAiRoutesOptions): Route[] {
    return [
        { method: "GET", path: "/v1/models", handler: async (ctx) => sendJson(ctx.res, 200, { object: "list", data: await listModels() }) },
        {
            method: "GET", path: "/v1/models/:id", handler: async (ctx) => {
                const model = (await listModels()).find((m) => m.id === ctx.params.id || `${m.id}.gguf` === ctx.params.id);
                if (model == null) throw unknownModel(ctx.params.id!);
                sendJson(ctx.res, 200, model);
            }
        },
        { method: "POST", path: "/v1/chat/completions", handler: chatCompletions },
        { method: "POST", path: "/v1/completions", handler: completions }
    ];

    /** Every model in the models folder and the built-in one: a request naming one that is not loaded loads it. */
    async function listModels() {
        return (await models.availableModels()).map((m) => ({ id: m.id, object: "model" as const, created: 0, owned_by: "presage" }));
    }

    /** The model file a request names (undefined: the loaded one), and the id its answer carries. */
    async function checkModel(requested: string | undefined): Promise<{ id: string; path: string | undefined }> {
        let path: string | undefined;
        try {
            path = await models.requestedModel(requested);
        } catch (err) {
            if (err instanceof ServiceError && err.code === "model-not-found") throw unknownModel(requested ?? "");
            throw err;
        }
        const current = path ?? models.info()?.modelPath ?? models.loading()?.target;
        if (current == null) throw new ServiceError("no-model", "No model is loaded: start the server with --model FILE or load one in the app.");
        return { id: modelId(current), path };
    }

    function options(req: ChatCompletionRequest | CompletionRequest, signal: AbortSignal): GenerationOptions {
        const stop = req.stop == null ? undefined : typeof req.stop === "string" ? [req.stop] : req.stop;
        const maxTokens = ("max_completion_tokens" in req ? req.max_completion_tokens : undefined) ?? req.max_tokens ?? undefined;
        return {
            strategies: req.strategies,
            exact: req.exact ?? undefined,
            sampling: [{
                temperature: req.temperature ?? undefined,
                topP: req.top_p ?? undefined,
                topK: req.top_k ?? undefined,
                minP: req.min_p ?? undefined,
                repeatPenalty: req.repeat_penalty ?? undefined,
                seed: req.seed == null ? undefined : (req.seed >>> 0) & 0x7fffffff
            }],
            penalties: { frequencyPenalty: req.frequency_penalty ?? undefined, presencePenalty: req.presence_penalty ?? undefined },
            maxTokens,
            stopStrings: stop?.filter((s) => s !== ""),
            signal
        };
    }

    async function chatCompletions(ctx: RouteContext): Promise<void> {
        const req = validate(chatCompletionSchema, await readJsonBody(ctx.req, maxBodyBytes), "chat completion request");
        const { id: model, path } = await checkModel(req.model);
        const messages: ChatMessage[] = req.messages.map((m) => ({
            role: m.role === "developer" ? "system" : m.role,
            content: m.content,
            ...(m.role === "assistant" && m.reasoning_content ? { reasoning: m.reasoning_content } : {})
        }));
        const thinking = req.chat_template_kwargs?.enable_thinking;
        const chatOptions = { ...options(req, ctx.signal), model: path, ...(thinking == null ? {} : { thinking }) };
        const { id, created } = completionIds("chat");
        if (!req.stream) {
            const result = await generation.chat(messages, chatOptions);
            if (ctx.signal.aborted) return;
            sendJson(ctx.res, 200, {
                id, object: "chat.completion", created, model,
                choices: [{
                    index: 0,
                    message: { role: "assistant", content: result.text, ...(result.reasoning != null ? { reasoning_content: result.reasoning.text } : {}), refusal: null },
                    logprobs: null,
                    finish_reason: finishReason(result.stopReason)
                }],
                usage: usage(result),
                speculative: speculative(result)
            });
            return;
        }
        const chunk = (delta: object, finish: string | null, extra: object = {}) =>
            ({ id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }], ...extra });
        await stream(ctx, req.stream_options?.include_usage === true, {
            first: () => chunk({ role: "assistant", content: "" }, null),
            piece: (text) => chunk({ content: text }, null),
            reasoningPiece: (text) => chunk({ reasoning_content: text }, null),
            last: (result) => chunk({}, finishReason(result.stopReason), { usage: usage(result), speculative: speculative(result) }),
            usageOnly: (result) => ({ id, object: "chat.completion.chunk", created, model, choices: [], usage: usage(result) }),
            run: (onText, onReasoning) => generation.chat(messages, { ...chatOptions, onText, onReasoning })
        });
    }

    async function completions(ctx: RouteContext): Promise<void> {
        const req = validate(completionSchema, await readJsonBody(ctx.req, maxBodyBytes), "completion request");
        const { id: model, path } = await checkModel(req.model);
        const { id, created } = completionIds("text");
        if (!req.stream) {
            const result = await generation.complete(req.prompt, { ...options(req, ctx.signal), model: path });
            if (ctx.signal.aborted) return;
            sendJson(ctx.res, 200, {
                id, object: "text_completion", created, model,
                choices: [{ index: 0, text: result.text, logprobs: null, finish_reason: finishReason(result.stopReason) }],
                usage: usage(result),
                speculative: speculative(result)
            });
            return;
        }
        const chunk = (text: string, finish: string | null, extra: object = {}) =>
            ({ id, object: "text_completion", created, model, choices: [{ index: 0, text, logprobs: null, finish_reason: finish }], ...extra });
        await stream(ctx, req.stream_options?.include_usage === true, {
            first: null,
            piece: (text) => chunk(text, null),
            last: (result) => chunk("", finishReason(result.stopReason), { usage: usage(result), speculative: speculative(result) }),
            usageOnly: (result) => ({ id, object: "text_completion", created, model, choices: [], usage: usage(result) }),
            run: (onText) => generation.complete(req.prompt, { ...options(req, ctx.signal), model: path, onText })
        });
    }

    /**
     * Streams one generation. Headers go out with the first piece, so a request refused before the
     * model starts (busy, bad strategy) still gets a plain error status.
     */
    async function stream(ctx: RouteContext, includeUsage: boolean, shape: {
        first: (() => object) | null;
        piece: (text: string) => object;
        /** Chat: a piece of the reasoning (thinking models), a delta of its own. */
        reasoningPiece?: (text: string) => object;
        last: (result: GenerationResult) => object;
        usageOnly: (result: GenerationResult) => object;
        run: (onText: (text: string) => void, onReasoning: (text: string) => void) => Promise<GenerationResult>;
    }): Promise<void> {
        const sse = new SseWriter(ctx.res);
        const open = () => {
            if (!sse.isStarted && shape.first != null) sse.data(shape.first());
        };
        try {
            const result = await shape.run((text) => {
                open();
                sse.text(text, shape.piece);
            }, (text) => {
                if (shape.reasoningPiece == null) return;
                open();
                sse.text(text, shape.reasoningPiece);
            });
            if (ctx.signal.aborted) return;
            open();
            sse.data(shape.last(result));
            if (includeUsage) sse.data(shape.usageOnly(result));
            sse.data("[DONE]");
        } catch (err) {
            // Nothing sent yet: the caller answers with the error's own status and JSON body.
            if (!sse.isStarted) throw err;
            if (ctx.signal.aborted) return;
            // Headers are gone: the error travels as an `error` event with OpenAI's error body (its
            // clients throw it as an APIError), and [DONE] still closes the stream.
            sse.event("error", errorBody(toHttpError(err), "openai"));
            sse.data("[DONE]");
        } finally {
            // Ending an unstarted response here would send an empty 200 before the error is answered.
            if (sse.isStarted) sse.end();
        }
    }
}

function unknownModel(name: string): HttpError {
    return new HttpError(404, "model-not-found", `The model "${name.slice(0, 200)}" is not here: GET /v1/models lists the models that are.`);
}
