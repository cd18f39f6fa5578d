import { fireEvent, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { FakeApi } from "../testing/fake-api.ts";
import { renderWith } from "../testing/render-with.ts";
import ModelsView from "./ModelsView.svelte";

describe("ModelsView", () => {
    it("chooses target and draft, checks the draft and loads them", async () => {
        const { api, app } = await renderWith(ModelsView);
        const target = (await screen.findByTestId("model-target")) as HTMLSelectElement;
        await waitFor(() => expect(target.value).toBe("/models/target.gguf"));
        await fireEvent.change(screen.getByTestId("model-draft"), { target: { value: "/models/other.gguf" } });
        await waitFor(() => expect(screen.getByTestId("draft-check").textContent).toContain("Refused: their vocabularies differ"));
        expect((screen.getByTestId("model-load") as HTMLButtonElement).disabled).toBe(true);
        await fireEvent.change(screen.getByTestId("model-draft"), { target: { value: "/models/draft.gguf" } });
        await waitFor(() => expect(screen.getByTestId("draft-check").textContent).toContain("can draft for this target"));
        await fireEvent.click(screen.getByTestId("model-load"));
        await waitFor(() => expect(api.callsOf("loadModel")).toEqual([[{ target: "/models/target.gguf", draft: "/models/draft.gguf" }]]));
        await waitFor(() => expect(app.engine?.draftModelPath).toBe("/models/draft.gguf"));
        expect(screen.getByTestId("engine-info").textContent).toContain("CPU");
    });

    it("downloads with progress and cancel", async () => {
        const { api, app } = await renderWith(ModelsView);
        await fireEvent.input(screen.getByTestId("download-uri"), { target: { value: "hf:org/repo/model.gguf" } });
        await fireEvent.click(screen.getByTestId("download-start"));
        await waitFor(() => expect(api.callsOf("downloadModel")).toEqual([[{ uri: "hf:org/repo/model.gguf" }]]));
        app.onEvent({ type: "download-progress", progress: { id: "d1", uri: "hf:org/repo/model.gguf", fileName: "model.gguf", downloadedBytes: 512 * 1024, totalBytes: 1024 * 1024, state: "downloading" } });
        await waitFor(() => expect(screen.getByTestId("download-item").textContent).toContain("512 KB of 1.0 MB"));
        await fireEvent.click(screen.getByTestId("download-cancel"));
        expect(api.callsOf("cancelDownload")).toEqual([["d1"]]);
        app.onEvent({ type: "download-progress", progress: { id: "d1", uri: "hf:org/repo/model.gguf", fileName: "model.gguf", downloadedBytes: 512 * 1024, totalBytes: 1024 * 1024, state: "cancelled" } });
        await waitFor(() => expect(screen.getByTestId("download-item").textContent).toContain("Cancelled"));
    });

    it("offers the recommended pairs", async () => {
        await renderWith(ModelsView);
        await fireEvent.click(await screen.findByRole("button", { name: "Choose target.gguf with draft.gguf" }));
        await waitFor(() => expect((screen.getByTestId("model-draft") as HTMLSelectElement).value).toBe("/models/draft.gguf"));
    });
});
