import { appMethods, appStreams, methodsOf, type ArgumentSpec, type HttpMethod, type HttpSource } from "../core/api-contract.ts";
import type { AnswerEvent, AppApi, SendMessageRequest } from "../core/app-api.ts";
import { readJsonBody } from "./request-body.ts";
import { sendJson, sendNoContent, type Route, type RouteContext } from "./router.ts";
import { SseWriter } from "./sse-writer.ts";

export interface AppRoutesOptions {
    api: AppApi;
    maxBodyBytes: number;
}

/**
 * The app API over HTTP, one route per method of the contract (core/api-contract.ts): each reads its
 * arguments from where the contract puts them (path, query, body), calls the one AppApi method, and
 * answers with the contract's status. Streams are server-sent events.
 */
export function appRoutes({ api, maxBodyBytes }: AppRoutesOptions): Route[] {
    const routes: Route[] = methodsOf(appMethods).map((method) => {
        const spec: { http: { method: HttpMethod; path: string; status: number }; args: readonly ArgumentSpec[] } = appMethods[method];
        const readsBody = spec.args.some((a) => a.http.in === "body" || a.http.in === "body-field");
        return {
            method: spec.http.method,
            path: spec.http.path,
            async handler(ctx: RouteContext) {
                const body = readsBody ? await readJsonBody(ctx.req, maxBodyBytes) : undefined;
                // The typed API takes typed requests; the services validate them, so what arrived is handed over as is.
                const args = spec.args.map((a) => argumentFrom(a.http, ctx, body));
                const result = await (api[method] as (...a: unknown[]) => Promise<unknown>).apply(api, args);
                if (spec.http.status === 204) sendNoContent(ctx.res);
                else sendJson(ctx.res, spec.http.status, result);
            }
        };
    });
    routes.push(
        { method: appStreams.sendMessage.http.method, path: appStreams.sendMessage.http.path, handler: sendMessage },
        { method: appStreams.onAppEvent.http.method, path: appStreams.onAppEvent.http.path, handler: events }
    );
    return routes;

    /** One answer as SSE; errors found before it starts are ordinary HTTP errors. */
    async function sendMessage(ctx: RouteContext): Promise<void> {
        const body = await readJsonBody(ctx.req, maxBodyBytes);
        const [conversationId, request] = appStreams.sendMessage.args.map((a) => argumentFrom(a.http, ctx, body));
        const sse = new SseWriter(ctx.res, { heartbeatMs: 15_000 });
        try {
            await api.sendMessage(conversationId as string, request as SendMessageRequest, (event: AnswerEvent) => {
                const { type, ...data } = event;
                sse.event(type, data, { hold: type === "step" });
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

/** One argument, from where the contract says HTTP carries it. */
function argumentFrom(source: HttpSource, ctx: RouteContext, body: unknown): unknown {
    switch (source.in) {
        case "path": return ctx.params[source.name];
        case "query": return ctx.url.searchParams.get(source.name) ?? undefined;
        case "body": return body;
        case "body-field": return ((body ?? {}) as Record<string, unknown>)[source.name];
    }
}
