import { fireEvent, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import type { StepEvent } from "../lib/types.ts";
import { FakeApi } from "../testing/fake-api.ts";
import { renderWith } from "../testing/render-with.ts";
import ChatView from "./ChatView.svelte";

/** A thinking model's answer as the engine streams it: reasoning steps, then one that closes the block, then answer steps. */
function thinkingSteps(): StepEvent[] {
    return [
        { step: 1, drafted: 0, accepted: 0, source: null, tokens: [10], text: "", reasoning: "Compare", ms: 10 },
        { step: 2, drafted: 0, accepted: 0, source: null, tokens: [11, 12], text: "", reasoning: " 9.11 and 9.9.", ms: 12 },
        { step: 3, drafted: 1, accepted: 1, source: "ngram", tokens: [13, 14], text: "9.9", reasoning: "", ms: 12 },
        { step: 4, drafted: 0, accepted: 0, source: null, tokens: [15], text: " is larger.", ms: 10 }
    ];
}

async function send(text: string) {
    const composer = screen.getByTestId("composer") as HTMLTextAreaElement;
    await fireEvent.input(composer, { target: { value: text } });
    await fireEvent.click(screen.getByTestId("send"));
}

describe("a thinking model's answer in the window", () => {
    it("shows the reasoning apart, collapsed, live while it streams, then with its length and time", async () => {
        const api = new FakeApi();
        api.answerSteps = thinkingSteps();
        let release: () => void = () => {};
        let gates = 0, released = false;
        // Two reasoning steps go out, then the stream waits until released.
        api.stepGate = () => (gates++ < 2 || released ? Promise.resolve() : new Promise<void>((resolve) => (release = () => {
            released = true;
            resolve();
        })));
        await renderWith(ChatView, {}, api);
        await send("Which is larger?");
        await waitFor(() => expect(screen.getByTestId("reasoning-summary").textContent).toMatch(/^Thinking… 3 tokens · /));
        const block = screen.getByTestId("reasoning") as HTMLDetailsElement;
        expect(block.open).toBe(false);
        expect(block.dataset.active).toBe("true");
        expect(screen.getByTestId("reasoning-text").textContent).toBe("Compare 9.11 and 9.9.");
        release();
        await waitFor(() => expect(screen.getByTestId("send")).toBeTruthy());
        // Finished: the stored reasoning's count (tokens to the end of the block) and time; the answer alone below it.
        await waitFor(() => expect(screen.getByTestId("reasoning-summary").textContent).toBe("Thought for 0.03 s · 5 tokens"));
        const answer = screen.getByTestId("message-assistant");
        expect(answer.querySelector(".body")!.textContent).toContain("9.9 is larger.");
        const body = answer.querySelector(".body")!.cloneNode(true) as HTMLElement;
        body.querySelector("[data-testid=reasoning]")!.remove();
        expect(body.textContent).not.toContain("Compare");
        await fireEvent.click(screen.getByTestId("reasoning-summary"));
        expect((screen.getByTestId("reasoning") as HTMLDetailsElement).open).toBe(true);
    });

    it("shows no reasoning block for an answer without reasoning", async () => {
        await renderWith(ChatView);
        await send("Hi");
        await waitFor(() => expect(screen.getByTestId("send")).toBeTruthy());
        await waitFor(() => expect(screen.getByTestId("message-assistant").textContent).toContain("Once upon a time"));
        expect(screen.queryByTestId("reasoning")).toBeNull();
    });

    it("switches thinking per conversation in its settings, stored with the conversation", async () => {
        const api = new FakeApi();
        const conv = await api.createConversation({ title: "T" });
        const { chat } = await renderWith(ChatView, {}, api);
        await chat.open(conv.id);
        await fireEvent.click(screen.getByTestId("conversation-settings"));
        const select = screen.getByTestId("conversation-thinking") as HTMLSelectElement;
        expect(select.value).toBe("");
        await fireEvent.change(select, { target: { value: "off" } });
        await fireEvent.click(screen.getByTestId("conversation-settings-save"));
        await waitFor(() => expect(api.callsOf("updateConversation")).toHaveLength(1));
        expect(api.callsOf("updateConversation")[0]).toEqual([conv.id, { systemPrompt: "", sampling: {}, thinking: false }]);
        expect(chat.conversation?.thinking).toBe(false);
    });

    it("says whether the loaded model thinks and can switch", async () => {
        const api = new FakeApi();
        api.engine = { ...api.engine!, thinking: { switchable: true, defaultOn: true } };
        await renderWith(ChatView, {}, api);
        await fireEvent.click(screen.getByTestId("conversation-settings"));
        expect(screen.getByTestId("thinking-note").textContent).toContain("enable_thinking");
        expect((screen.getByTestId("conversation-thinking") as HTMLSelectElement).options[0]!.textContent).toBe("The model's default (on)");
    });

    it("says so when the loaded model does not think", async () => {
        await renderWith(ChatView);
        await fireEvent.click(screen.getByTestId("conversation-settings"));
        expect(screen.getByTestId("thinking-note").textContent).toContain("does not think");
    });
});
