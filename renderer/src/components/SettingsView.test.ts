import { fireEvent, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { FakeApi } from "../testing/fake-api.ts";
import { renderWith } from "../testing/render-with.ts";
import SettingsView from "./SettingsView.svelte";

describe("SettingsView", () => {
    it("has a switch per strategy that saves at once", async () => {
        const { api, app } = await renderWith(SettingsView);
        for (const name of ["draft", "ngram", "retrieval", "history", "early-exit"])
            expect(screen.getByTestId(`strategy-toggle-${name}`)).toBeTruthy();
        // Hypothesis reduction is always on: it has no switch.
        expect(screen.queryByTestId("strategy-toggle-reduction")).toBeNull();
        // Auto is on by default; the switches take over when it is off.
        await fireEvent.click(screen.getByTestId("strategy-toggle-auto"));
        await waitFor(() => expect(app.settings!.strategies.auto).toBe(false));
        const ngram = screen.getByTestId("strategy-toggle-ngram") as HTMLInputElement;
        expect(ngram.checked).toBe(true);
        await fireEvent.click(ngram);
        await waitFor(() => expect(api.callsOf("updateSettings")).toHaveLength(2));
        expect((api.callsOf("updateSettings")[1]![0] as { strategies: Record<string, boolean> }).strategies.ngram).toBe(false);
        expect(app.settings!.strategies.ngram).toBe(false);
        const early = screen.getByTestId("strategy-toggle-early-exit") as HTMLInputElement;
        expect(early.checked).toBe(false);
        await fireEvent.click(early);
        await waitFor(() => expect(app.settings!.strategies["early-exit"]).toBe(true));
    });

    it("says which strategies the loaded models cannot use", async () => {
        await renderWith(SettingsView);
        // The test engine offers ngram, history, early-exit: no draft model, no documents.
        expect(screen.getByText(/choose a draft model in Models/)).toBeTruthy();
        expect(screen.getByText(/add documents/)).toBeTruthy();
    });

    it("switches max draft between auto and a number, and saves sampling and runtime fields", async () => {
        const { api } = await renderWith(SettingsView);
        await fireEvent.click(screen.getByTestId("max-draft-auto"));
        await waitFor(() => expect(api.callsOf("updateSettings").at(-1)).toEqual([{ maxDraft: 8 }]));
        const max = await screen.findByTestId("max-draft");
        await fireEvent.change(max, { target: { value: "12" } });
        await waitFor(() => expect(api.callsOf("updateSettings").at(-1)).toEqual([{ maxDraft: 12 }]));

        await fireEvent.change(screen.getByLabelText("Temperature"), { target: { value: "1.1" } });
        await waitFor(() => expect((api.callsOf("updateSettings").at(-1)![0] as { sampling: { temperature: number } }).sampling.temperature).toBe(1.1));

        await fireEvent.change(screen.getByTestId("backend"), { target: { value: "vulkan" } });
        await waitFor(() => expect(api.callsOf("updateSettings").at(-1)).toEqual([{ backend: "vulkan" }]));
        await fireEvent.change(screen.getByLabelText("Threads (0 = auto)"), { target: { value: "4" } });
        await waitFor(() => expect(api.callsOf("updateSettings").at(-1)).toEqual([{ threads: 4 }]));
    });

    it("defaults the context to the model's trained one and warns above it", async () => {
        const { api } = await renderWith(SettingsView);
        const mode = screen.getByTestId("context-mode") as HTMLSelectElement;
        expect(mode.value).toBe("auto");
        expect(mode.selectedOptions[0]!.textContent).toBe("Trained (2048)");
        expect(screen.queryByTestId("context-warning")).toBeNull();
        await fireEvent.change(mode, { target: { value: "number" } });
        await waitFor(() => expect(api.callsOf("updateSettings").at(-1)).toEqual([{ contextSize: 2048 }]));
        expect(screen.queryByTestId("context-warning")).toBeNull();
        await fireEvent.change(await screen.findByTestId("context-size"), { target: { value: "8192" } });
        await waitFor(() => expect(api.callsOf("updateSettings").at(-1)).toEqual([{ contextSize: 8192 }]));
        await waitFor(() => expect(screen.getByTestId("context-warning").textContent).toMatch(/8192 tokens is more than this model was trained with \(2048\)/));
        await fireEvent.change(mode, { target: { value: "auto" } });
        await waitFor(() => expect(api.callsOf("updateSettings").at(-1)).toEqual([{ contextSize: "auto" }]));
        await waitFor(() => expect(screen.queryByTestId("context-warning")).toBeNull());
    });

    it("has auto, on by default, which sets the other switches aside", async () => {
        const { api, app } = await renderWith(SettingsView);
        const auto = screen.getByTestId("strategy-toggle-auto") as HTMLInputElement;
        expect(auto.checked).toBe(true);
        expect(auto.closest("label")!.querySelector("strong")!.textContent).toBe("Auto");
        const draft = screen.getByTestId("strategy-toggle-draft") as HTMLInputElement;
        // The test engine has no draft model: auto will not use one, and the switch says so.
        expect(draft.disabled).toBe(true);
        expect(draft.checked).toBe(false);
        expect((screen.getByTestId("strategy-toggle-ngram") as HTMLInputElement).checked).toBe(true);
        // Early exit is not part of auto.
        expect((screen.getByTestId("strategy-toggle-early-exit") as HTMLInputElement).checked).toBe(false);
        await fireEvent.click(auto);
        await waitFor(() => expect(app.settings!.strategies.auto).toBe(false));
        expect((api.callsOf("updateSettings").at(-1)![0] as { strategies: Record<string, boolean> }).strategies.auto).toBe(false);
        expect(draft.disabled).toBe(false);
    });

    it("has an Exact switch, off by default, that saves at once", async () => {
        const { api, app } = await renderWith(SettingsView);
        const exact = screen.getByTestId("exact-toggle") as HTMLInputElement;
        expect(exact.checked).toBe(false);
        await fireEvent.click(exact);
        await waitFor(() => expect(api.callsOf("updateSettings").at(-1)).toEqual([{ exact: true }]));
        await waitFor(() => expect(app.settings!.exact).toBe(true));
    });

    it("makes greedy decoding one click away, and back to sampling at 0.8", async () => {
        const { app } = await renderWith(SettingsView);
        const greedy = screen.getByTestId("settings-greedy") as HTMLInputElement;
        expect(greedy.checked).toBe(false);
        expect(app.settings!.sampling.temperature).toBe(0.8);
        await fireEvent.click(greedy);
        await waitFor(() => expect(app.settings!.sampling.temperature).toBe(0));
        expect(greedy.checked).toBe(true);
        await fireEvent.click(greedy);
        await waitFor(() => expect(app.settings!.sampling.temperature).toBe(0.8));
    });

    it("refuses an invalid number without saving", async () => {
        const { api } = await renderWith(SettingsView);
        await fireEvent.change(screen.getByLabelText("Top-p"), { target: { value: "3" } });
        expect(screen.getByLabelText("Top-p").getAttribute("aria-invalid")).toBe("true");
        expect(api.callsOf("updateSettings")).toHaveLength(0);
    });

    it("follows settings changed elsewhere", async () => {
        const api = new FakeApi();
        await renderWith(SettingsView, {}, api);
        api.emit({ type: "settings", settings: { ...api.settings, strategies: { ...api.settings.strategies, draft: false } } });
        await waitFor(() => expect((screen.getByTestId("strategy-toggle-draft") as HTMLInputElement).checked).toBe(false));
    });

    it("shows the limits per document source and changes them", async () => {
        const { api } = await renderWith(SettingsView);
        const files = screen.getByTestId("index-max-files") as HTMLInputElement;
        const gb = screen.getByTestId("index-max-gb") as HTMLInputElement;
        expect(files.value).toBe("100000");
        expect(gb.value).toBe("2");
        await fireEvent.change(files, { target: { value: "5000" } });
        await fireEvent.change(gb, { target: { value: "0.5" } });
        await waitFor(() => expect(api.callsOf("updateSettings")).toEqual([[{ indexMaxFiles: 5000 }], [{ indexMaxBytes: 512 * 1024 ** 2 }]]));
    });
});
