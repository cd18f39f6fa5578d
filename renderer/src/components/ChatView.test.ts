import { fireEvent, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { FakeApi, message, sampleSteps, statsOf, testEngine } from "../testing/fake-api.ts";
import { MemoryLastConversation, renderWith } from "../testing/render-with.ts";
import ChatView from "./ChatView.svelte";

async function type(text: string) {
    const composer = screen.getByTestId("composer") as HTMLTextAreaElement;
    await fireEvent.input(composer, { target: { value: text } });
    return composer;
}

describe("ChatView", () => {
    it("sends with Enter, streams the answer and keeps its stats", async () => {
        const { api } = await renderWith(ChatView);
        const composer = await type("Tell me a story");
        await fireEvent.keyDown(composer, { key: "Enter" });
        await waitFor(() => expect(screen.getAllByTestId("message-assistant")).toHaveLength(1));
        await waitFor(() => expect(screen.getByTestId("message-assistant").textContent).toContain("Once upon a time, there"));
        expect(screen.getByTestId("message-user").textContent).toContain("Tell me a story");
        expect(composer.value).toBe("");
        expect(api.callsOf("createConversation")).toHaveLength(1);
        expect(api.callsOf("sendMessage")[0]![1]).toEqual({ content: "Tell me a story" });
        // The finished message keeps the stats the service computed.
        await waitFor(() => expect(screen.getByTestId("stats-accepted").textContent).toBe("3/5"));
        expect(screen.getByTestId("stats-tokens-per-second").textContent).toBe("120");
        expect(screen.getByTestId("stats-speedup").textContent).toBe("1.20× faster");
        expect(screen.getByTestId("send")).toBeTruthy();
    });

    it("Shift+Enter does not send", async () => {
        const { api } = await renderWith(ChatView);
        const composer = await type("line one");
        await fireEvent.keyDown(composer, { key: "Enter", shiftKey: true });
        expect(api.callsOf("sendMessage")).toHaveLength(0);
    });

    it("shows live stats while generating and Escape stops the answer, keeping what arrived", async () => {
        const api = new FakeApi();
        let release: () => void = () => {};
        let gates = 0;
        api.stepGate = () => (gates++ === 0 ? Promise.resolve() : new Promise<void>((resolve) => (release = resolve)));
        await renderWith(ChatView, {}, api);
        const composer = await type("Go");
        await fireEvent.click(screen.getByTestId("send"));
        await waitFor(() => expect(screen.getByTestId("stop")).toBeTruthy());
        // The first step is on screen (after a frame) with live stats.
        await waitFor(() => expect(screen.getByTestId("message-assistant").textContent).toContain("Once"));
        expect(screen.getByTestId("stats-accepted").textContent).toBe("0/0");
        await fireEvent.keyDown(composer, { key: "Escape" });
        expect(api.callsOf("stopGeneration")).toHaveLength(1);
        release();
        await waitFor(() => expect(screen.getByTestId("send")).toBeTruthy());
        expect(screen.queryByTestId("stop")).toBeNull();
        expect(screen.getByTestId("message-assistant").textContent).toContain("Once");
        expect(screen.getByTestId("message-assistant").textContent).not.toContain("upon");
        expect(screen.getByTestId("stop-reason").textContent).toBe("Stopped");
    });

    it("edits a user message and resends it, dropping what followed", async () => {
        const api = new FakeApi();
        const conv = await api.createConversation({ title: "Old" });
        api.messages.set(conv.id, [
            message("u1", conv.id, "user", "first question"),
            { ...message("a1", conv.id, "assistant", "first answer"), stats: statsOf(sampleSteps()), steps: sampleSteps(), strategies: ["ngram"] }
        ]);
        const { chat } = await renderWith(ChatView, {}, api);
        await chat.open(conv.id);
        await waitFor(() => expect(screen.getByText("first answer")).toBeTruthy());
        await fireEvent.click(screen.getByTestId("edit"));
        const box = screen.getByTestId("edit-message") as HTMLTextAreaElement;
        await fireEvent.input(box, { target: { value: "second question" } });
        await fireEvent.click(screen.getByTestId("edit-save"));
        await waitFor(() => expect(api.callsOf("sendMessage")).toHaveLength(1));
        expect(api.callsOf("sendMessage")[0]![1]).toEqual({ content: "second question", editMessageId: "u1" });
        await waitFor(() => expect(screen.getByTestId("message-assistant").textContent).toContain("Once upon"));
        expect(screen.queryByText("first answer")).toBeNull();
        expect(screen.getAllByTestId("message-user")).toHaveLength(1);
    });

    it("regenerates the last answer", async () => {
        const { api } = await renderWith(ChatView);
        await fireEvent.keyDown(await type("Hi"), { key: "Enter" });
        await waitFor(() => expect(screen.getByTestId("regenerate")).toBeTruthy());
        await fireEvent.click(screen.getByTestId("regenerate"));
        await waitFor(() => expect(api.callsOf("sendMessage")).toHaveLength(2));
        expect(api.callsOf("sendMessage")[1]![1]).toEqual({ regenerate: true });
        await waitFor(() => expect(screen.getAllByTestId("message-assistant")).toHaveLength(1));
    });

    it("lists, searches, renames and deletes conversations", async () => {
        const api = new FakeApi();
        await api.createConversation({ title: "Cooking" });
        await api.createConversation({ title: "Rust lifetimes" });
        const { chat } = await renderWith(ChatView, {}, api);
        await chat.loadConversations();
        await waitFor(() => expect(screen.getAllByTestId("conversation-item")).toHaveLength(2));
        await fireEvent.input(screen.getByTestId("conversation-search"), { target: { value: "rust" } });
        await waitFor(() => expect(screen.getAllByTestId("conversation-item")).toHaveLength(1), { timeout: 2000 });
        await fireEvent.click(screen.getByLabelText("Rename conversation Rust lifetimes"));
        const title = screen.getByLabelText("Conversation title");
        await fireEvent.input(title, { target: { value: "Borrowing" } });
        await fireEvent.keyDown(title, { key: "Enter" });
        await waitFor(() => expect(screen.getByText("Borrowing")).toBeTruthy());
        expect(api.callsOf("updateConversation").at(-1)).toEqual([api.conversations.find((c) => c.title === "Borrowing")!.id, { title: "Borrowing" }]);
        await fireEvent.click(screen.getByLabelText("Delete conversation Borrowing"));
        await fireEvent.click(screen.getByLabelText("Confirm delete"));
        await waitFor(() => expect(screen.queryByText("Borrowing")).toBeNull());
        expect(api.callsOf("deleteConversation")).toHaveLength(1);
    });

    it("saves the system prompt and sampling of the conversation", async () => {
        const api = new FakeApi();
        const conv = await api.createConversation({ title: "T" });
        const { chat } = await renderWith(ChatView, {}, api);
        await chat.open(conv.id);
        await fireEvent.click(screen.getByTestId("conversation-settings"));
        await fireEvent.input(screen.getByTestId("system-prompt"), { target: { value: "Be brief." } });
        await fireEvent.input(screen.getByLabelText("Temperature for this conversation"), { target: { value: "0.7" } });
        await fireEvent.click(screen.getByTestId("conversation-settings-save"));
        await waitFor(() => expect(api.callsOf("updateConversation")).toHaveLength(1));
        expect(api.callsOf("updateConversation")[0]).toEqual([conv.id, { systemPrompt: "Be brief.", sampling: { temperature: 0.7 } }]);
    });

    it("colours accepted tokens by drafter when the toggle is on", async () => {
        await renderWith(ChatView);
        await fireEvent.keyDown(await type("Hi"), { key: "Enter" });
        await waitFor(() => expect(screen.getByTestId("regenerate")).toBeTruthy());
        await fireEvent.click(screen.getByTestId("colour-tokens"));
        const container = screen.getByTestId("message-assistant");
        await waitFor(() => expect(container.querySelector(".tok.src-ngram")).toBeTruthy());
        // With per-token text, only the guessed token is coloured; without, the whole step.
        expect(container.querySelector(".tok.src-ngram")!.textContent).toBe(" upon");
        expect(container.querySelector(".tok.src-ngram")!.getAttribute("title")).toContain("N-gram");
        expect(container.querySelector(".tok.src-draft")!.textContent).toBe(" time, there");
        expect(container.querySelector(".tok.src-draft")!.className).toContain("tok-step");
    });
});

describe("ChatView errors", () => {
    it("says why a message was refused and gives its text back", async () => {
        const api = new FakeApi();
        api.sendMessage = async () => {
            throw new Error("No model is loaded: load one in the models panel first.");
        };
        await renderWith(ChatView, {}, api);
        const composer = await type("Hello there");
        await fireEvent.keyDown(composer, { key: "Enter" });
        await waitFor(() => expect(screen.getByRole("alert").textContent).toContain("No model is loaded"));
        await waitFor(() => expect(composer.value).toBe("Hello there"));
        expect(screen.queryByTestId("message-user")).toBeNull();
    });
});

describe("ChatView everyday edges", () => {
    it("leaves no empty conversation behind when no model is loaded", async () => {
        const api = new FakeApi();
        api.engine = null;
        const { chat } = await renderWith(ChatView, {}, api);
        const composer = await type("Hello there");
        await fireEvent.keyDown(composer, { key: "Enter" });
        await waitFor(() => expect(screen.getByRole("alert").textContent).toContain("No model is loaded"));
        await waitFor(() => expect(composer.value).toBe("Hello there"));
        expect(api.callsOf("createConversation")).toHaveLength(1);
        expect(api.callsOf("deleteConversation")).toHaveLength(1);
        expect(api.conversations).toEqual([]);
        expect(chat.conversations).toEqual([]);
        expect(chat.conversation).toBeNull();
        await waitFor(() => expect(screen.queryAllByTestId("conversation-item")).toHaveLength(0));
    });

    it("titles a conversation from its first message when its system prompt was set first", async () => {
        const { api } = await renderWith(ChatView);
        await fireEvent.click(screen.getByTestId("conversation-settings"));
        await fireEvent.input(screen.getByTestId("system-prompt"), { target: { value: "Be brief." } });
        await fireEvent.click(screen.getByTestId("conversation-settings-save"));
        await waitFor(() => expect(api.callsOf("createConversation")).toEqual([[{ systemPrompt: "Be brief.", sampling: {} }]]));
        expect(screen.getByRole("heading", { level: 2 }).textContent).toBe("New chat");
        await fireEvent.keyDown(await type("Once upon a time\nthere was"), { key: "Enter" });
        await waitFor(() => expect(screen.getByRole("heading", { level: 2 }).textContent).toBe("Once upon a time"));
        await waitFor(() => expect(screen.getByTestId("conversation-title").textContent).toBe("Once upon a time"));
        expect(screen.getByTestId("conversation-date").textContent).toBe("just now");
    });

    it("keeps regenerated answers as versions to flip through", async () => {
        const api = new FakeApi();
        const { chat } = await renderWith(ChatView, {}, api);
        await fireEvent.keyDown(await type("Hi"), { key: "Enter" });
        await waitFor(() => expect(screen.getByTestId("regenerate")).toBeTruthy());
        expect(screen.queryByTestId("versions")).toBeNull();
        const firstId = chat.messages.at(-1)!.id;
        api.answerSteps = [{ step: 1, drafted: 0, accepted: 0, source: null, tokens: [7], text: "A second answer", ms: 5 }];
        await fireEvent.click(screen.getByTestId("regenerate"));
        await waitFor(() => expect(screen.getByTestId("version-label").textContent).toBe("2/2"));
        expect(screen.getAllByTestId("message-assistant")).toHaveLength(1);
        expect(screen.getByTestId("message-assistant").textContent).toContain("A second answer");
        await fireEvent.click(screen.getByTestId("version-previous"));
        await waitFor(() => expect(screen.getByTestId("version-label").textContent).toBe("1/2"));
        expect(api.callsOf("updateConversation").at(-1)).toEqual([chat.conversation!.id, { showVersion: firstId }]);
        expect(screen.getByTestId("message-assistant").textContent).toContain("Once upon a time, there");
        expect((screen.getByTestId("version-previous") as HTMLButtonElement).disabled).toBe(true);
        await fireEvent.click(screen.getByTestId("version-next"));
        await waitFor(() => expect(screen.getByTestId("message-assistant").textContent).toContain("A second answer"));
    });

    it("names only the strategies that can run, and says why the others cannot", async () => {
        const api = new FakeApi();
        api.engine = { ...testEngine(), available: ["ngram", "early-exit", "retrieval", "history"] };
        await renderWith(ChatView, {}, api);
        // Auto is on; there is no draft model, nothing indexed, no past answer.
        expect(screen.getByTestId("strategies").textContent!.trim()).toBe("Auto: N-gram");
        await fireEvent.click(screen.getByTestId("strategies"));
        const why = (name: string) => screen.getByTestId(`strategy-status-${name}`);
        expect(why("ngram").dataset.runs).toBe("true");
        expect(why("draft").textContent).toContain("no draft model is loaded");
        expect(why("retrieval").textContent).toContain("no documents are indexed");
        expect(why("history").textContent).toContain("there are no past answers yet");
        expect(why("early-exit").textContent).toContain("not part of Auto");
        // One answer later, history has something to guess from.
        await fireEvent.keyDown(await type("Hi"), { key: "Enter" });
        await waitFor(() => expect(screen.getByTestId("strategies").textContent!.trim()).toBe("Auto: N-gram · History"));
        expect(why("history").dataset.runs).toBe("true");
    });

    it("is one click from greedy decoding", async () => {
        const { app } = await renderWith(ChatView);
        const greedy = screen.getByTestId("greedy") as HTMLInputElement;
        expect(greedy.checked).toBe(false);
        await fireEvent.click(greedy);
        await waitFor(() => expect(app.settings!.sampling.temperature).toBe(0));
        await fireEvent.click(greedy);
        await waitFor(() => expect(app.settings!.sampling.temperature).toBe(0.8));
    });

    it("reopens the conversation that was open, as after a reload", async () => {
        const api = new FakeApi();
        const memory = new MemoryLastConversation();
        const first = await renderWith(ChatView, {}, api, memory);
        await fireEvent.keyDown(await type("Remember me"), { key: "Enter" });
        await waitFor(() => expect(screen.getByTestId("regenerate")).toBeTruthy());
        const id = first.chat.conversation!.id;
        first.unmount();
        const second = await renderWith(ChatView, {}, api, memory);
        expect(second.chat.conversation?.id).toBe(id);
        await waitFor(() => expect(screen.getByTestId("message-user").textContent).toContain("Remember me"));
        // "New chat" is remembered too.
        await fireEvent.click(screen.getByTestId("new-conversation"));
        second.unmount();
        const third = await renderWith(ChatView, {}, api, memory);
        expect(third.chat.conversation).toBeNull();
    });
});
