import { appMethods, methodsOf, type ArgumentSpec, type CallMethod, type HttpMethod } from "../../../core/api-contract.ts";
import type { PresageBridge } from "./bridge.ts";
import { readSse } from "./sse.ts";
import type { AnswerEvent, AppApi, AppEvent, SendMessageRequest } from "./types.ts";

/** What the window asks of the services: the bridge's methods, whichever transport carries them. */
export interface Api extends Omit<PresageBridge, "choosePaths" | "openModelsFolder" | "addModelFile" | "onShellCommand"> {
    /** "electron": window.presage (IPC); "web": HTTP + SSE to the page's own origin. */
    readonly mode: "electron" | "web";
    /** The native open dialog, or null where there is none (web mode: type a path instead). */
    readonly choosePaths: PresageBridge["choosePaths"] | null;
    /** Shows the models folder in the file manager, or null where the window cannot (web mode: it shows the path). */
    readonly openModelsFolder: PresageBridge["openModelsFolder"] | null;
    /** Desktop only: copies a chosen .gguf into the models folder (checked first); resolves to its path there. */
    addModelFile?: PresageBridge["addModelFile"];
    /** Desktop only: the menu and its shortcuts or a drop ask the window to show something. */
    onShellCommand?: PresageBridge["onShellCommand"];
}

/** An error the services reported: a sentence for the user, and a code for the program. */
export class ApiError extends Error {
    constructor(message: string, readonly code: string = "error", readonly status?: number) {
        super(message);
        this.name = "ApiError";
    }
}

/** The api for this window: the Electron bridge when the preload exposed one, else HTTP. */
export function createApi(win: Window = window): Api {
    if (win.presage != null) return bridgeApi(win.presage);
    return httpApi({ baseUrl: new URL(".", win.location.href).origin, token: readToken(win.document, win.location) });
}

/** The per-run token the server put in the served page: `<meta name="presage-token" content="…">`. */
export function readToken(doc: Document, location?: Location): string {
    const meta = doc.querySelector<HTMLMetaElement>('meta[name="presage-token"]')?.content ?? "";
    if (meta !== "" && !meta.startsWith("%")) return meta;
    // A page opened as http://127.0.0.1:port/#token=… (e.g. by `presage serve --open`).
    const hash = new URLSearchParams(location?.hash.replace(/^#/, "") ?? "").get("token");
    return hash ?? "";
}

/** IPC errors arrive as "Error invoking remote method 'x': Error: message"; keep the message. */
function cleanError(err: unknown): ApiError {
    if (err instanceof ApiError) return err;
    const e = err as { message?: unknown; code?: unknown } | null;
    let message = typeof e?.message === "string" ? e.message : String(err);
    message = message.replace(/^Error invoking remote method '[^']*': (\w*Error: )?/, "");
    return new ApiError(message, typeof e?.code === "string" ? e.code : "error");
}

export function bridgeApi(bridge: PresageBridge): Api {
    const api: Record<string, unknown> = { mode: "electron" };
    for (const key of Object.keys(bridge) as (keyof PresageBridge)[]) {
        const fn = bridge[key] as unknown;
        if (typeof fn !== "function") continue;
        // Subscriptions return their unsubscribe function synchronously.
        if (key === "onAppEvent" || key === "onShellCommand") api[key] = (fn as PresageBridge["onAppEvent"]).bind(bridge);
        else api[key] = async (...args: unknown[]) => {
            try {
                return await (fn as (...a: unknown[]) => Promise<unknown>).apply(bridge, args);
            } catch (err) {
                throw cleanError(err);
            }
        };
    }
    if (typeof bridge.choosePaths !== "function") api.choosePaths = null;
    if (typeof bridge.openModelsFolder !== "function") api.openModelsFolder = null;
    return api as unknown as Api;
}

export interface HttpApiOptions {
    /** e.g. "http://127.0.0.1:4321" */
    baseUrl: string;
    token: string;
    fetch?: typeof fetch;
}

export function httpApi(options: HttpApiOptions): Api {
    const doFetch = options.fetch ?? ((input, init) => fetch(input, init));
    const headers = (json: boolean): Record<string, string> => ({
        "x-presage-token": options.token,
        ...(json ? { "content-type": "application/json" } : {})
    });

    async function failure(response: Response): Promise<ApiError> {
        let message = `The app's service answered ${response.status} ${response.statusText}.`;
        let code = `http-${response.status}`;
        try {
            const body = await response.json() as { error?: { message?: string; code?: string } };
            if (body.error?.message) message = body.error.message;
            if (body.error?.code) code = body.error.code;
        } catch { /* not JSON: keep the status line */ }
        return new ApiError(message, code, response.status);
    }

    async function request<T>(method: string, path: string, body?: unknown): Promise<T> {
        let response: Response;
        try {
            response = await doFetch(options.baseUrl + path, {
                method,
                headers: headers(body !== undefined),
                body: body === undefined ? undefined : JSON.stringify(body)
            });
        } catch {
            throw new ApiError("The app's service cannot be reached: check that Presage is still running, then try again.", "unreachable");
        }
        if (!response.ok) throw await failure(response);
        if (response.status === 204) return undefined as T;
        const text = await response.text();
        return (text === "" ? undefined : JSON.parse(text)) as T;
    }

    const id = encodeURIComponent;
    const listeners = new Set<(event: AppEvent) => void>();
    let events: AbortController | null = null;

    /** One shared GET /api/events connection while anyone listens; it reconnects after a drop. */
    async function connectEvents(controller: AbortController): Promise<void> {
        let delay = 250;
        while (!controller.signal.aborted) {
            try {
                const response = await doFetch(options.baseUrl + "/api/events", { headers: headers(false), signal: controller.signal });
                if (!response.ok || response.body == null) throw await failure(response);
                delay = 250;
                await readSse(response.body, (message) => {
                    let data: unknown;
                    try {
                        data = JSON.parse(message.data);
                    } catch {
                        return;
                    }
                    const event = { type: message.event, ...(data as object) } as AppEvent;
                    for (const listener of [...listeners]) listener(event);
                });
            } catch (err) {
                if (controller.signal.aborted) return;
                if (err instanceof ApiError && (err.status === 401 || err.status === 403)) return;
            }
            await new Promise((resolve) => setTimeout(resolve, delay));
            delay = Math.min(delay * 2, 5000);
        }
    }

    const generations = new Map<string, AbortController>();

    /** A request/response method, sent where the contract (core/api-contract.ts) says HTTP carries each argument. */
    function callOver(method: CallMethod, args: unknown[]): Promise<unknown> {
        const spec: { http: { method: HttpMethod; path: string }; args: readonly ArgumentSpec[] } = appMethods[method];
        let path = spec.http.path;
        let query = "";
        let body: unknown = undefined;
        spec.args.forEach((a, i) => {
            const value = args[i];
            switch (a.http.in) {
                case "path":
                    path = path.replace(`:${a.http.name}`, () => id(String(value)));
                    break;
                case "query":
                    if (value != null && value !== "") query += `${query === "" ? "?" : "&"}${a.http.name}=${id(String(value))}`;
                    break;
                case "body":
                    body = value;
                    break;
                case "body-field":
                    body = { ...(body as object | undefined), [a.http.name]: value };
                    break;
            }
        });
        return request(spec.http.method, path + query, body);
    }
    const calls = Object.fromEntries(methodsOf(appMethods).map((method) => [method, (...args: unknown[]) => callOver(method, args)])) as unknown as Pick<AppApi, CallMethod>;

    return {
        ...calls,
        mode: "web",
        choosePaths: null,
        openModelsFolder: null,
        async sendMessage(conversationId: string, req: SendMessageRequest, onEvent: (event: AnswerEvent) => void) {
            const controller = new AbortController();
            let response: Response;
            try {
                response = await doFetch(options.baseUrl + `/api/conversations/${id(conversationId)}/messages`, {
                    method: "POST",
                    headers: { ...headers(true), accept: "text/event-stream" },
                    body: JSON.stringify(req),
                    signal: controller.signal
                });
            } catch {
                throw new ApiError("The app's service cannot be reached: check that Presage is still running, then try again.", "unreachable");
            }
            if (!response.ok || response.body == null) throw await failure(response);
            let generationId: string | null = null;
            let ended = false;
            try {
                await readSse(response.body, (message) => {
                    let data: unknown;
                    try {
                        data = JSON.parse(message.data);
                    } catch {
                        return;
                    }
                    const event = { type: message.event, ...(data as object) } as AnswerEvent;
                    if (event.type === "start") {
                        generationId = event.generationId;
                        generations.set(generationId, controller);
                    }
                    if (event.type === "done" || event.type === "error") ended = true;
                    onEvent(event);
                });
            } catch (err) {
                if (!ended) onEvent({ type: "error", message: controller.signal.aborted ? "The answer was stopped." : `The answer's stream broke off (${(err as Error).message}); what arrived is kept, try again to continue.` });
                ended = true;
            } finally {
                if (generationId != null) generations.delete(generationId);
            }
            if (!ended) onEvent({ type: "error", message: "The answer's stream ended before the answer did; try again." });
        },
        async stopGeneration(generationId: string) {
            try {
                await calls.stopGeneration(generationId);
            } catch (err) {
                // The stop route failed: closing the stream stops the answer too.
                const controller = generations.get(generationId);
                if (controller == null) throw err;
                controller.abort();
            }
        },
        onAppEvent(listener: (event: AppEvent) => void) {
            listeners.add(listener);
            if (events == null) {
                events = new AbortController();
                void connectEvents(events);
            }
            return () => {
                listeners.delete(listener);
                if (listeners.size === 0 && events != null) {
                    events.abort();
                    events = null;
                }
            };
        }
    };
}
