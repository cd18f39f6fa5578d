import { getContext, setContext } from "svelte";
import type { Api } from "./api.ts";
import type { AppStore } from "./app-store.svelte.ts";
import type { ChatStore } from "./chat-store.svelte.ts";

const apiKey = Symbol("api");
const appKey = Symbol("app");
const chatKey = Symbol("chat");

export const contextKeys = { api: apiKey, app: appKey, chat: chatKey } as const;

export function provideApi(api: Api): void {
    setContext(apiKey, api);
}
export function useApi(): Api {
    const api = getContext<Api | undefined>(apiKey);
    if (api == null) throw new Error("No api in context: render components inside <App> or pass one in the test's context.");
    return api;
}
export function provideApp(app: AppStore): void {
    setContext(appKey, app);
}
export function useApp(): AppStore {
    const app = getContext<AppStore | undefined>(appKey);
    if (app == null) throw new Error("No app store in context.");
    return app;
}
export function provideChat(chat: ChatStore): void {
    setContext(chatKey, chat);
}
export function useChat(): ChatStore {
    const chat = getContext<ChatStore | undefined>(chatKey);
    if (chat == null) throw new Error("No chat store in context.");
    return chat;
}
