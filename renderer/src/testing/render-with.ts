import { cleanup, render } from "@testing-library/svelte";
import { afterEach } from "vitest";
import type { Component } from "svelte";
import { AppStore } from "../lib/app-store.svelte.ts";
import { ChatStore, type LastConversationMemory } from "../lib/chat-store.svelte.ts";
import { contextKeys } from "../lib/context.ts";
import { FakeApi } from "./fake-api.ts";

// Each test starts from an empty document (no vitest globals, so no automatic cleanup).
afterEach(() => cleanup());

/** The open conversation remembered in memory (jsdom's localStorage would outlive each test). */
export class MemoryLastConversation implements LastConversationMemory {
    id: string | null = null;
    get = () => this.id;
    set = (id: string | null) => void (this.id = id);
}

/** Renders a component with the api, app and chat stores in context, as <App> provides and starts them. */
export async function renderWith<P extends Record<string, unknown>>(component: Component<P>, props: P = {} as P, api = new FakeApi(), memory = new MemoryLastConversation()) {
    const app = new AppStore(api);
    await app.start();
    await app.loadDocuments();
    const chat = new ChatStore(api, undefined, memory);
    chat.onanswered = () => void app.loadDocuments();
    await chat.start();
    const context = new Map<unknown, unknown>([[contextKeys.api, api], [contextKeys.app, app], [contextKeys.chat, chat]]);
    const result = render(component as Component<Record<string, unknown>>, { props, context } as never);
    return { ...result, api, app, chat };
}
