import type { AppApi, AnswerEvent } from "../core/app-api.ts";
import { readJsonBody } from "./request-body.ts";
import { sendJson, sendNoContent, type Route, type RouteContext } from "./router.ts";
import { SseWriter } from "./sse-writer.ts";

export interface AppRoutesOptions {
    api: AppApi;
    maxBodyBytes: number;
}

/**
 * The app API over HTTP (routes documented in server/app-api.ts): each route reads its input,
 * calls the one AppApi method, and writes the result. Streams are server-sent events.
 */
export function appRoutes({ api, maxBodyBytes }: AppRoutesOptions): Route[] {
    const body = (ctx: RouteContext) => readJsonBody(ctx.req, maxBodyBytes);
    const json = (handler: (ctx: RouteContext) => Promise<unknown>, status = 200) => async (ctx: RouteContext) => sendJson(ctx.res, status, await handler(ctx));
    const none = (handler: (ctx: RouteContext) => Promise<unknown>) => async (ctx: RouteContext) => {
        await handler(ctx);
        sendNoContent(ctx.res);
    };
    // The typed API takes typed requests; the services validate them, so raw JSON is handed over as is.
    const raw = <T>(value: unknown) => value as T;

    return [
        { method: "GET", path: "/api/state", handler: json(() => api.getState()) },
        { method: "PUT", path: "/api/settings", handler: json(async (ctx) => api.updateSettings(raw(await body(ctx)))) },
        { method: "GET", path: "/api/models", handler: json(() => api.listModels()) },
        { method: "POST", path: "/api/models/load", handler: json(async (ctx) => api.loadModel(raw(await body(ctx)))) },
        { method: "POST", path: "/api/models/check-draft", handler: json(async (ctx) => api.checkDraft(raw(await body(ctx)))) },
        { method: "POST", path: "/api/models/download", handler: json(async (ctx) => api.downloadModel(raw(await body(ctx))), 202) },
        { method: "DELETE", path: "/api/models/download/:id", handler: none((ctx) => api.cancelDownload(ctx.params.id!)) },
        { method: "POST", path: "/api/models/download/:id/pause", handler: none((ctx) => api.pauseDownload(ctx.params.id!)) },
        { method: "POST", path: "/api/models/download-pair", handler: json(async (ctx) => api.downloadPair(raw(await body(ctx))), 202) },
        { method: "POST", path: "/api/models/folder", handler: json(async (ctx) => api.setModelsFolder(raw(await body(ctx)))) },
        { method: "GET", path: "/api/conversations", handler: json(async (ctx) => api.listConversations(ctx.url.searchParams.get("search") ?? undefined)) },
        { method: "POST", path: "/api/conversations", handler: json(async (ctx) => api.createConversation(raw(await body(ctx) ?? {})), 201) },
        { method: "GET", path: "/api/conversations/:id", handler: json((ctx) => api.getConversation(ctx.params.id!)) },
        { method: "PATCH", path: "/api/conversations/:id", handler: json(async (ctx) => api.updateConversation(ctx.params.id!, raw(await body(ctx)))) },
        { method: "DELETE", path: "/api/conversations/:id", handler: none((ctx) => api.deleteConversation(ctx.params.id!)) },
        { method: "POST", path: "/api/conversations/:id/messages", handler: sendMessage },
        { method: "POST", path: "/api/generations/:id/stop", handler: none((ctx) => api.stopGeneration(ctx.params.id!)) },
        { method: "POST", path: "/api/race", handler: json(async (ctx) => api.race(raw(await body(ctx)))) },
        { method: "GET", path: "/api/documents", handler: json(() => api.listDocuments()) },
        { method: "POST", path: "/api/documents", handler: json(async (ctx) => api.addDocuments(raw(await body(ctx))), 202) },
        { method: "DELETE", path: "/api/documents/:id", handler: none((ctx) => api.removeDocuments(ctx.params.id!)) },
        { method: "POST", path: "/api/documents/:id/rescan", handler: none((ctx) => api.rescanDocuments(ctx.params.id!)) },
        { method: "PATCH", path: "/api/documents/:id", handler: none(async (ctx) => api.setDocumentsWatch(ctx.params.id!, (raw<{ watch: boolean }>(await body(ctx)) ?? {}).watch)) },
        { method: "DELETE", path: "/api/history", handler: none(() => api.clearHistory()) },
        { method: "GET", path: "/api/events", handler: events }
    ];

    /** One answer as SSE; errors found before it starts are ordinary HTTP errors. */
    async function sendMessage(ctx: RouteContext): Promise<void> {
        const request = await body(ctx);
        const sse = new SseWriter(ctx.res, { heartbeatMs: 15_000 });
        try {
            await api.sendMessage(ctx.params.id!, raw(request), (event: AnswerEvent) => {
                const { type, ...data } = event;
                sse.event(type, data);
            }, { signal: ctx.signal });
        } finally {
            if (sse.isStarted) sse.end();
        }
    }

    /** App-wide events until the client goes away. */
    async function events(ctx: RouteContext): Promise<void> {
        const sse = new SseWriter(ctx.res, { heartbeatMs: 15_000 });
        sse.start();
        const unsubscribe = api.onAppEvent((event) => {
            const { type, ...data } = event;
            sse.event(type, data);
        });
        await new Promise<void>((resolve) => ctx.signal.addEventListener("abort", () => resolve(), { once: true }));
        unsubscribe();
        sse.end();
    }
}
