import { fireEvent, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { FakeApi } from "../testing/fake-api.ts";
import { renderWith } from "../testing/render-with.ts";
import DocumentsView from "./DocumentsView.svelte";

describe("DocumentsView", () => {
    it("adds a path and follows its progress to done", async () => {
        const api = new FakeApi();
        const { app } = await renderWith(DocumentsView, {}, api);
        await waitFor(() => expect(screen.getByText(/No documents yet/)).toBeTruthy());
        await fireEvent.input(screen.getByTestId("documents-add-path"), { target: { value: "/home/me/notes" } });
        await fireEvent.click(screen.getByTestId("documents-add"));
        await waitFor(() => expect(screen.getByText("/home/me/notes")).toBeTruthy());
        expect(api.callsOf("addDocuments")[0]).toEqual([{ path: "/home/me/notes", watch: false }]);
        const id = api.documents.sources[0]!.id;

        app.onEvent({ type: "index-progress", progress: { sourceId: id, filesDone: 2, filesTotal: 5, bytes: 2048, tokens: 700, rate: 1_500_000, etaSeconds: 3, state: "indexing" } });
        await waitFor(() => expect(screen.getByText("2/5 files")).toBeTruthy());
        const bar = screen.getByTestId("documents-progress") as HTMLProgressElement;
        expect(bar.value).toBe(2);
        expect(bar.max).toBe(5);
        expect(screen.getByText("1.4 MB/s")).toBeTruthy();
        expect(screen.getByText("700 tokens")).toBeTruthy();

        api.documents = {
            sources: [{ ...api.documents.sources[0]!, files: 5, indexed: 4, tokens: 1800, state: "idle", skipped: [{ path: "/home/me/notes/big.bin", reason: "not a text file" }] }],
            storeBytes: 123_456,
            tokens: 1800
        };
        app.onEvent({ type: "index-progress", progress: { sourceId: id, filesDone: 5, filesTotal: 5, bytes: 9000, tokens: 1800, rate: 0, etaSeconds: 0, state: "done" } });
        await waitFor(() => expect(screen.getByTestId("documents-state").textContent).toBe("Done"));
        await waitFor(() => expect(screen.getByText(/1 skipped/)).toBeTruthy());
        expect(screen.getByText("not a text file")).toBeTruthy();
        expect(screen.getByTestId("documents-totals").textContent).toMatch(/store 121 KB/);
        expect(screen.getByTestId("documents-progress").getAttribute("data-state")).toBe("done");
    });

    it("lists the indexed files with their tokens and removes one, which then shows as skipped", async () => {
        const api = new FakeApi();
        api.documents = {
            sources: [{
                id: "1", path: "/home/me/notes", kind: "folder", watch: false, files: 3, indexed: 2, tokens: 1500, state: "idle", progress: null,
                skipped: [{ path: "/home/me/notes/photo.png", reason: "not a text file (.png)" }],
                indexedFiles: [{ id: "1:10", path: "/home/me/notes/a.md", tokens: 1200 }, { id: "1:11", path: "/home/me/notes/sub/b.txt", tokens: 300 }]
            }],
            storeBytes: 1000,
            tokens: 1500
        };
        await renderWith(DocumentsView, {}, api);
        await waitFor(() => expect(screen.getAllByTestId("documents-indexed-file")).toHaveLength(2));
        const rows = screen.getAllByTestId("documents-indexed-file").map((r) => r.textContent!.replace(/\s+/g, " ").trim());
        expect(rows[0]).toContain("a.md");
        expect(rows[0]).toContain("1200 tokens");
        expect(rows[1]).toContain("sub/b.txt");
        expect(screen.getByTestId("documents-skipped").textContent).toContain("photo.png — not a text file (.png)");
        await fireEvent.click(screen.getByLabelText("Remove /home/me/notes/sub/b.txt from the index"));
        await waitFor(() => expect(screen.getAllByTestId("documents-indexed-file")).toHaveLength(1));
        expect(api.callsOf("removeDocuments")).toEqual([["1:11"]]);
        expect(screen.getByTestId("documents-skipped").textContent).toContain("sub/b.txt — removed from the index by you");
        expect(screen.getByText("1200 tokens", { selector: ".counts span" })).toBeTruthy();
    });

    it("removes, re-indexes and watches a source", async () => {
        const api = new FakeApi();
        api.documents = {
            sources: [{ id: "s1", path: "/docs", kind: "folder", watch: false, files: 3, indexed: 3, skipped: [], tokens: 900, state: "idle", progress: null }],
            storeBytes: 5000,
            tokens: 900
        };
        await renderWith(DocumentsView, {}, api);
        await waitFor(() => expect(screen.getByText("/docs")).toBeTruthy());
        await fireEvent.click(screen.getByTestId("documents-rescan"));
        await waitFor(() => expect(api.callsOf("rescanDocuments")).toEqual([["s1"]]));
        await fireEvent.click(screen.getByTestId("documents-watch"));
        await waitFor(() => expect(api.callsOf("setDocumentsWatch")).toEqual([["s1", true]]));
        await fireEvent.click(screen.getByTestId("documents-pause"));
        await waitFor(() => expect(api.callsOf("pauseDocuments")).toEqual([["s1", true]]));
        await fireEvent.click(screen.getByTestId("documents-remove"));
        await fireEvent.click(screen.getByLabelText("Confirm removing /docs"));
        await waitFor(() => expect(screen.queryByText("/docs")).toBeNull());
        expect(api.callsOf("removeDocuments")).toEqual([["s1"]]);
    });

    it("says what went wrong when a path cannot be added", async () => {
        const api = new FakeApi();
        api.addDocuments = async () => {
            throw new Error("There is no folder or file at /nope: check the path.");
        };
        await renderWith(DocumentsView, {}, api);
        await fireEvent.input(screen.getByTestId("documents-add-path"), { target: { value: "/nope" } });
        await fireEvent.click(screen.getByTestId("documents-add"));
        await waitFor(() => expect(screen.getByRole("alert").textContent).toContain("There is no folder or file at /nope"));
    });

    it("offers the native dialog where there is one", async () => {
        const api = new FakeApi();
        api.choosePaths = async () => ["/picked/folder"];
        await renderWith(DocumentsView, {}, api);
        await fireEvent.click(screen.getByLabelText("Choose a folder to add"));
        await waitFor(() => expect(api.callsOf("addDocuments")[0]).toEqual([{ path: "/picked/folder", watch: false }]));
    });

    it("shows why a source stopped at its limit, and that its file lists are one page of the whole", async () => {
        const api = new FakeApi();
        const reason = "Stopped at 100000 files, the limit for one source: add a smaller folder, or raise the limit in Settings.";
        api.documents = {
            sources: [{
                id: "1", path: "/home/me", kind: "folder", watch: false, files: 100_000, indexed: 99_000, skippedCount: 1000, tokens: 5_000_000, state: "idle", progress: null,
                stopReason: reason,
                skipped: [{ path: "/home/me/a.png", reason: "not a text file (.png)" }],
                indexedFiles: [{ id: "1:1", path: "/home/me/a.md", tokens: 50 }, { id: "1:2", path: "/home/me/b.md", tokens: 50 }]
            }],
            page: { limit: 100, offset: 0 },
            storeBytes: 1000,
            tokens: 5_000_000
        };
        await renderWith(DocumentsView, {}, api);
        await waitFor(() => expect(screen.getByTestId("documents-stop-reason").textContent).toBe(reason));
        expect(screen.getByTestId("documents-indexed").querySelector("summary")!.textContent).toBe("Indexed files (99000), the first 2 shown");
        expect(screen.getByTestId("documents-skipped").querySelector("summary")!.textContent).toBe("Skipped files (1000), the first 1 shown");
        expect(screen.getByText("1000 skipped")).toBeTruthy();
    });
});
