import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { describeWithStories } from "../native-models/testing/stories.ts";
import type { Api } from "../renderer/src/lib/api.ts";
import { FakeApi } from "../renderer/src/testing/fake-api.ts";
import type { AnswerEvent, Message, SendMessageRequest } from "./app-api.ts";
import { createAppServices, type AppServices } from "./app-services.ts";

/** What the window's component tests ask of the api (renderer/src/components/*.test.ts run on FakeApi). */
type ScenarioApi = Omit<Api, "mode" | "choosePaths" | "openModelsFolder" | "addModelFile" | "onShellCommand">;

/** A failed call, as the window sees it: its code (the message is the service's own sentence). */
async function codeOf(call: () => Promise<unknown>): Promise<string> {
    try {
        await call();
        return "resolved";
    } catch (err) {
        return String((err as { code?: unknown }).code ?? "no code");
    }
}

/** One answer, reduced to what the window relies on (the fake's text is scripted, the model's is not). */
async function answer(api: ScenarioApi, conversationId: string, request: SendMessageRequest) {
    const events: AnswerEvent[] = [];
    await api.sendMessage(conversationId, request, (e) => events.push(e));
    const start = events[0];
    const done = events.at(-1);
    if (start?.type !== "start" || done?.type !== "done") throw new Error(`not an answer: ${JSON.stringify(events.map((e) => e.type))}`);
    const steps = events.slice(1, -1).flatMap((e) => (e.type === "step" ? [e.step] : []));
    return {
        message: done.message,
        shape: {
            order: [...new Set(events.map((e) => e.type))],
            stepsOnly: steps.length === events.length - 2,
            userMessage: start.userMessage == null ? null : { role: start.userMessage.role, content: start.userMessage.content },
            title: start.conversation?.title,
            role: done.message.role,
            storedSteps: done.message.steps?.length === steps.length,
            tokens: done.message.stats?.tokens === steps.reduce((n, s) => n + s.tokens.length, 0),
            stats: Object.keys(done.message.stats ?? {}).filter((k) => k !== "exact" && k !== "batchInvariant").sort(),
            strategies: Array.isArray(done.message.strategies)
        }
    };
}

/** Versions, by position rather than id. */
function versions(message: Message | undefined, ids: string[]) {
    const v = message?.versions;
    return v == null ? null : { ids: v.ids.map((id) => ids.indexOf(id)), index: v.index, shown: ids.indexOf(message!.id) };
}

/**
 * The component tests' scenarios: settings, a conversation answered, regenerated, another version
 * shown, edited, searched, renamed and deleted, the history cleared, and the errors the window
 * handles. Returns what each step showed, ids replaced by positions.
 */
async function scenario(api: ScenarioApi): Promise<unknown[]> {
    const seen: unknown[] = [];
    const state = await api.getState();
    seen.push(["state", Object.keys(state.settings).sort(), Object.keys(state.settings.sampling).sort(), state.engine != null]);
    const settings = await api.updateSettings({ sampling: { maxTokens: 8 } } as never);
    seen.push(["settings merged", settings.sampling.maxTokens, settings.sampling.topK === state.settings.sampling.topK, settings.strategies]);

    const created = await api.createConversation({});
    seen.push(["created", created.title, created.systemPrompt, created.sampling]);
    const answers: string[] = [];
    const content = "Once upon a time there was a little dog";
    const first = await answer(api, created.id, { content });
    answers.push(first.message.id);
    seen.push(["first answer", first.shape, versions(first.message, answers)]);
    seen.push(["listed", (await api.listConversations()).map((c) => [c.id === created.id, c.title])]);

    const again = await answer(api, created.id, { regenerate: true });
    answers.push(again.message.id);
    seen.push(["regenerated", again.shape, versions(again.message, answers)]);
    let conversation = await api.getConversation(created.id);
    seen.push(["after regenerate", conversation.messages.map((m) => m.role), versions(conversation.messages.at(-1), answers)]);

    await api.updateConversation(created.id, { showVersion: answers[0]! });
    conversation = await api.getConversation(created.id);
    seen.push(["first version shown", conversation.messages.map((m) => m.role), versions(conversation.messages.at(-1), answers)]);
    seen.push(["unknown version", await codeOf(() => api.updateConversation(created.id, { showVersion: "no-such-answer" }))]);

    const edited = await answer(api, created.id, { content: "A cat sat", editMessageId: conversation.messages[0]!.id });
    seen.push(["edited", edited.shape]);
    conversation = await api.getConversation(created.id);
    seen.push(["after edit", conversation.messages.map((m) => [m.role, m.role === "user" ? m.content : ""]), versions(conversation.messages.at(-1), [edited.message.id])]);

    seen.push(["search", (await api.listConversations("DOG")).length, (await api.listConversations("zebra")).length]);
    seen.push(["renamed", (await api.updateConversation(created.id, { title: "Cats" })).title, (await api.getConversation(created.id)).conversation.title]);

    const history = (await api.listDocuments()).historyAnswers;
    await api.clearHistory();
    seen.push(["history cleared", history != null && history > 0, (await api.listDocuments()).historyAnswers, (await api.getConversation(created.id)).messages.length]);

    seen.push(["errors", {
        getConversation: await codeOf(() => api.getConversation("no-such-conversation")),
        updateConversation: await codeOf(() => api.updateConversation("no-such-conversation", { title: "x" })),
        deleteConversation: await codeOf(() => api.deleteConversation("no-such-conversation")),
        sendMessage: await codeOf(() => api.sendMessage("no-such-conversation", { content: "hi" }, () => undefined)),
        removeDocuments: await codeOf(() => api.removeDocuments("no-such-source"))
    }]);
    await api.deleteConversation(created.id);
    seen.push(["deleted", (await api.listConversations()).length, await codeOf(() => api.getConversation(created.id))]);
    return seen;
}

/**
 * FakeApi stands in for the services in the window's component tests: the same scenario on it and on
 * the real AppService (stories260K, SQLite in a temporary folder) must show the same.
 */
describeWithStories("FakeApi behaves like the real service", (storiesPath) => {
    const dir = mkdtempSync(join(tmpdir(), "presage-fake-parity-"));
    let services: AppServices;

    beforeAll(async () => {
        services = createAppServices({ modelsDir: join(storiesPath, ".."), dbPath: join(dir, "p.db"), threads: 1, calibrate: false });
        await services.models.load({ target: storiesPath });
    });
    afterAll(async () => {
        await services?.close();
        rmSync(dir, { recursive: true, force: true });
    });

    it("in the component tests' scenarios", async () => {
        const real = await scenario(services.api);
        const fake = await scenario(new FakeApi());
        expect(fake).toEqual(real);
    });
});
