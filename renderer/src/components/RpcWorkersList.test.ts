import { screen } from "@testing-library/svelte";
import { describe, expect, it } from "vitest";
import { FakeApi, testEngine } from "../testing/fake-api.ts";
import { renderWith } from "../testing/render-with.ts";
import ModelsView from "./ModelsView.svelte";
import RpcWorkersList from "./RpcWorkersList.svelte";

const rpc = {
    devices: [
        { name: "RPC0", endpoint: "10.0.0.5:50052", freeBytes: 3 * 2 ** 30, totalBytes: 8 * 2 ** 30, layers: 20, modelBytes: 2 * 2 ** 30 },
        { name: "RPC1", endpoint: "10.0.0.6:50052", freeBytes: 2 ** 30, totalBytes: 4 * 2 ** 30, layers: 9, modelBytes: 2 ** 29 }
    ],
    notes: ["worker 10.0.0.7:50052 did not answer within 5 s; left out."]
};

describe("RpcWorkersList", () => {
    it("shows each worker with its memory and the layers it holds, and the workers left out", async () => {
        await renderWith(RpcWorkersList, { rpc, layers: 33 });
        const rows = screen.getAllByTestId("rpc-device");
        expect(rows.map((r) => r.querySelector("code")!.textContent)).toEqual(["10.0.0.5:50052", "10.0.0.6:50052"]);
        expect(screen.getAllByTestId("rpc-device-layers").map((c) => c.textContent)).toEqual(["20 of 33", "9 of 33"]);
        expect(screen.getAllByTestId("rpc-device-memory")[0]!.textContent).toMatch(/^3(\.0)? GB of 8(\.0)? GB$/);
        expect(screen.getByTestId("rpc-note").textContent).toBe("worker 10.0.0.7:50052 did not answer within 5 s; left out.");
    });

    it("is in the Models view only when the target is split across workers", async () => {
        const api = new FakeApi();
        await renderWith(ModelsView, {}, api);
        expect(screen.queryByTestId("rpc-workers")).toBeNull();
        api.engine = { ...testEngine(), rpc };
        await renderWith(ModelsView, {}, api);
        expect(screen.getAllByTestId("rpc-device")).toHaveLength(2);
    });
});
