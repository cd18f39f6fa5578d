import { fireEvent, screen, waitFor } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { FakeApi, testEngine } from "../testing/fake-api.ts";
import { renderWith } from "../testing/render-with.ts";
import RpcWorkersSetting from "./RpcWorkersSetting.svelte";
import SettingsView from "./SettingsView.svelte";

const missing = "llama.cpp's RPC backend and Presage's RPC addon are not built here (the prebuilt llama.cpp binaries have no RPC backend): run `npm run build:rpc` once (about 20 minutes on 2 cores), then restart Presage.";

describe("RpcWorkersSetting", () => {
    it("sits in Settings → Model runtime", async () => {
        await renderWith(SettingsView);
        expect(screen.getByRole("heading", { name: "Remote workers (llama.cpp RPC)" })).toBeTruthy();
        expect(screen.getByTestId("rpc-none").textContent).toContain("this machine only");
    });

    it("adds and removes workers in the settings, asking the service again after each change", async () => {
        const { api } = await renderWith(RpcWorkersSetting);
        await fireEvent.input(screen.getByLabelText("Worker address"), { target: { value: " 192.168.1.20:50052 " } });
        await fireEvent.click(screen.getByRole("button", { name: "Add worker" }));
        await waitFor(() => expect(screen.getAllByTestId("rpc-worker").map((li) => li.querySelector("code")!.textContent)).toEqual(["192.168.1.20:50052"]));
        await waitFor(() => expect((screen.getByLabelText("Worker address") as HTMLInputElement).value).toBe(""));
        await fireEvent.input(screen.getByLabelText("Worker address"), { target: { value: "10.0.0.5:50052" } });
        await fireEvent.click(screen.getByRole("button", { name: "Add worker" }));
        await waitFor(() => expect(screen.getAllByTestId("rpc-worker")).toHaveLength(2));
        expect(api.settings.rpcWorkers).toEqual(["192.168.1.20:50052", "10.0.0.5:50052"]);
        await fireEvent.click(screen.getByRole("button", { name: "Remove 192.168.1.20:50052" }));
        await waitFor(() => expect(api.settings.rpcWorkers).toEqual(["10.0.0.5:50052"]));
        expect(api.callsOf("updateSettings")).toEqual([[{ rpcWorkers: ["192.168.1.20:50052"] }], [{ rpcWorkers: ["192.168.1.20:50052", "10.0.0.5:50052"] }], [{ rpcWorkers: ["10.0.0.5:50052"] }]]);
        await waitFor(() => expect(api.callsOf("rpcWorkersStatus").length).toBeGreaterThanOrEqual(4));
    });

    it("refuses an address without a port in one line, saving nothing", async () => {
        const { api } = await renderWith(RpcWorkersSetting);
        await fireEvent.input(screen.getByLabelText("Worker address"), { target: { value: "192.168.1.20" } });
        await fireEvent.click(screen.getByRole("button", { name: "Add worker" }));
        expect(screen.getByTestId("rpc-invalid").textContent).toBe('"192.168.1.20" is not a worker address: write host:port, e.g. 192.168.1.20:50052.');
        expect(api.callsOf("updateSettings")).toEqual([]);
    });

    it("shows the service's warning for a worker off private networks", async () => {
        const api = new FakeApi();
        api.settings = { ...api.settings, rpcWorkers: ["203.0.113.9:50052"] };
        const warning = "Worker 203.0.113.9:50052 (203.0.113.9) is not on a private or loopback address: llama.cpp's rpc-server is unauthenticated, and anyone who reaches it can run code on its backend and read what it holds. Use it only on a network you trust.";
        api.rpcStatus = { missing: null, warnings: [warning] };
        await renderWith(RpcWorkersSetting, {}, api);
        await waitFor(() => expect(screen.getByTestId("rpc-exposed").textContent).toBe(warning));
        expect(screen.queryByTestId("rpc-missing")).toBeNull();
    });

    it("says what is missing when the binaries have no RPC backend", async () => {
        const api = new FakeApi();
        api.rpcStatus = { missing, warnings: [] };
        await renderWith(RpcWorkersSetting, {}, api);
        await waitFor(() => expect(screen.getByTestId("rpc-missing").textContent).toContain("npm run build:rpc"));
    });

    it("says a restart is needed while the loaded model still uses a worker taken off the list", async () => {
        const api = new FakeApi();
        api.settings = { ...api.settings, rpcWorkers: ["10.0.0.6:50052"] };
        api.engine = { ...testEngine(), rpc: { devices: [{ name: "RPC0", endpoint: "10.0.0.5:50052", freeBytes: 1, totalBytes: 2, layers: 3 }, { name: "RPC1", endpoint: "10.0.0.6:50052", freeBytes: 1, totalBytes: 2, layers: 2 }], notes: [] } };
        await renderWith(RpcWorkersSetting, {}, api);
        expect(screen.getByTestId("rpc-restart").textContent!.trim()).toBe("10.0.0.5:50052 is still in use by the loaded model: restart Presage to stop using it (llama.cpp cannot forget a worker).");
    });
});
