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

    it("says which chat template answers use, and why when the model's own fails to render", async () => {
        const api = new FakeApi();
        const note = "The chat template of m.gguf failed to render (Unexpected token): answering with a plain transcript instead.";
        api.engine = { ...api.engine!, chatTemplate: { name: "plain transcript", note } };
        await renderWith(ModelsView, {}, api);
        expect((await screen.findByTestId("chat-template")).textContent).toContain("plain transcript");
        expect(screen.getByTestId("chat-template-note").textContent).toBe(note);
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

    it("loads a recommended pair whose files are in the folder", async () => {
        const { api } = await renderWith(ModelsView);
        const pair = await screen.findByTestId("pair-pair-1");
        expect(pair.textContent).toContain("target.gguf (4 GB) + draft.gguf (500 MB) · needs about 6 GB of memory");
        await fireEvent.click(screen.getByTestId("pair-load"));
        await waitFor(() => expect(api.callsOf("loadModel")).toEqual([[{ target: "/models/target.gguf", draft: "/models/draft.gguf" }]]));
        await waitFor(() => expect(screen.getByTestId("pair-pair-1").textContent).toContain("In use"));
    });

    it("downloads a recommended pair with progress, speed and time left, pauses and resumes it, then offers to load it", async () => {
        const api = new FakeApi();
        api.modelFiles = [];
        const { app } = await renderWith(ModelsView, {}, api);
        await fireEvent.click(await screen.findByTestId("pair-download"));
        await waitFor(() => expect(api.callsOf("downloadPair")).toEqual([[{ pairId: "pair-1" }]]));
        const id = Object.keys(app.pairDownloads)[0]!;
        const file = (fileName: string, downloadedBytes: number, totalBytes: number) => ({ id: `f-${fileName}`, uri: `hf:org/x/${fileName}`, fileName, downloadedBytes, totalBytes, state: "downloading" as const });
        const progress = { id, pairId: "pair-1", target: file("target.gguf", 1_000_000_000, 4_000_000_000), draft: file("draft.gguf", 500_000_000, 500_000_000), downloadedBytes: 1_500_000_000, totalBytes: 4_500_000_000, bytesPerSecond: 50_000_000, etaSeconds: 60 };
        app.onEvent({ type: "pair-download", pair: { ...progress, state: "downloading" } });
        await waitFor(() => expect(screen.getByTestId("pair-transfer").textContent).toBe("1.4 GB of 4.2 GB · 47.7 MB/s · 1 min 0 s left"));
        await fireEvent.click(screen.getByTestId("pair-pause"));
        expect(api.callsOf("pauseDownload")).toEqual([[id]]);
        app.onEvent({ type: "pair-download", pair: { ...progress, state: "paused", bytesPerSecond: 0, etaSeconds: null } });
        await waitFor(() => expect(screen.getByTestId("pair-status").textContent).toContain("Paused at 1.4 GB of 4.2 GB"));
        await fireEvent.click(screen.getByTestId("pair-download"));
        await waitFor(() => expect(api.callsOf("downloadPair")).toHaveLength(2));
        api.modelFiles = [{ name: "target.gguf", path: "/models/target.gguf", size: 4e9 }, { name: "draft.gguf", path: "/models/draft.gguf", size: 5e8 }];
        app.onEvent({ type: "pair-download", pair: { ...progress, state: "ready" } });
        await waitFor(() => expect(screen.getByTestId("pair-ready").textContent).toContain("share a vocabulary"));
        await waitFor(() => expect(screen.getByTestId("pair-load")).toBeTruthy());
    });

    it("says why a pair was refused, in one line", async () => {
        const api = new FakeApi();
        api.modelFiles = [];
        const { app } = await renderWith(ModelsView, {}, api);
        await screen.findByTestId("pair-download");
        const file = { id: "f", uri: "u", fileName: "x.gguf", downloadedBytes: 1, totalBytes: 1, state: "done" as const };
        app.onEvent({ type: "pair-download", pair: { id: "p9", pairId: "pair-1", state: "error", target: file, draft: file, downloadedBytes: 2, totalBytes: 2, bytesPerSecond: 0, etaSeconds: null, error: "The draft cannot draft for this target: the target has 512 tokens and the draft 300." } });
        await waitFor(() => expect(screen.getByTestId("pair-error").textContent).toBe("The draft cannot draft for this target: the target has 512 tokens and the draft 300."));
        expect(screen.getByTestId("pair-download").textContent).toContain("Try again");
    });

    it("shows the models folder, says when it is empty, and changes it (typed in a browser)", async () => {
        const { api } = await renderWith(ModelsView);
        await waitFor(() => expect(screen.getByTestId("models-folder-path").textContent).toBe("/models"));
        expect(screen.getByTestId("models-folder-state").textContent).toContain("3 models in the folder");
        expect(screen.queryByTestId("models-folder-open")).toBeNull();
        expect(screen.getByTestId("models-folder-state").textContent).toContain("its path is above");
        await fireEvent.click(screen.getByTestId("models-folder-change"));
        await fireEvent.input(screen.getByTestId("models-folder-input"), { target: { value: "/elsewhere/models" } });
        await fireEvent.click(screen.getByTestId("models-folder-save"));
        await waitFor(() => expect(api.callsOf("setModelsFolder")).toEqual([[{ dir: "/elsewhere/models" }]]));
        await waitFor(() => expect(screen.getByTestId("models-folder-path").textContent).toBe("/elsewhere/models"));
        expect(screen.getByTestId("models-folder-state").textContent).toContain("The folder is empty");
        // The built-in model is still offered.
        expect([...(screen.getByTestId("model-target") as HTMLSelectElement).options].map((o) => o.textContent)).toContain("stories260K.gguf (1.1 MB) · built-in demo model");
    });

    it("opens the folder and chooses another with the native dialog on the desktop", async () => {
        const api = new FakeApi();
        const opened: string[] = [];
        api.openModelsFolder = async () => void opened.push("open");
        api.choosePaths = async () => ["/chosen"];
        await renderWith(ModelsView, {}, api);
        await fireEvent.click(await screen.findByTestId("models-folder-open"));
        expect(opened).toEqual(["open"]);
        await fireEvent.click(screen.getByTestId("models-folder-change"));
        await waitFor(() => expect(api.callsOf("setModelsFolder")).toEqual([[{ dir: "/chosen" }]]));
    });

    it("shows which model is loading", async () => {
        const { app } = await renderWith(ModelsView);
        await waitFor(() => expect(screen.getByTestId("models-folder-path").textContent).toBe("/models"));
        app.onEvent({ type: "model-loading", loading: { target: "/app/models/stories260K.gguf", draft: null, builtin: true, startedAt: Date.now(), progress: null } });
        await waitFor(() => expect(screen.getByTestId("model-loading").textContent).toContain("Loading stories260K.gguf (the built-in demo model)"));
        // A load without a note shows none.
        expect(screen.queryByTestId("model-loading-note")).toBeNull();
        app.onEvent({ type: "model-loading", loading: null });
        await waitFor(() => expect(screen.queryByTestId("model-loading")).toBeNull());
    });

    it("says when a load first compiles the GPU's kernels", async () => {
        const { app } = await renderWith(ModelsView);
        await waitFor(() => expect(screen.getByTestId("models-folder-path").textContent).toBe("/models"));
        const loading = { target: "/app/models/stories260K.gguf", draft: null, builtin: true, startedAt: Date.now(), progress: null };
        app.onEvent({ type: "model-loading", loading });
        await waitFor(() => expect(screen.getByTestId("model-loading")).toBeTruthy());
        app.onEvent({ type: "model-loading", loading: { ...loading, note: "preparing the GPU: first load only" } });
        await waitFor(() => expect(screen.getByTestId("model-loading-note").textContent).toBe("preparing the GPU: first load only"));
        app.onEvent({ type: "model-loading", loading: null });
        await waitFor(() => expect(screen.queryByTestId("model-loading-note")).toBeNull());
    });
});
