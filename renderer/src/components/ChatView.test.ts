import { fireEvent, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { FakeApi, message, sampleSteps, statsOf } from "../testing/fake-api.ts";
import { renderWith } from "../testing/render-with.ts";
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
