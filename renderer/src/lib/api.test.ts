import { describe, expect, it } from "vitest";
import { bridgeApi, readToken } from "./api.ts";
import type { PresageBridge } from "./bridge.ts";

describe("api", () => {
    it("reads the token the server put in the page, or the address's #token=", () => {
        const doc = document.implementation.createHTMLDocument();
        doc.head.innerHTML = '<meta name="presage-token" content="abc">';
        expect(readToken(doc)).toBe("abc");
        const empty = document.implementation.createHTMLDocument();
        expect(readToken(empty, { hash: "#token=xyz" } as Location)).toBe("xyz");
    });

    it("turns IPC errors back into the service's sentence and code", async () => {
        const bridge = {
            getState: async () => {
                throw Object.assign(new Error("Error invoking remote method 'getState': Error: No model is loaded: load one first."), { code: "no-model" });
            },
            onAppEvent: () => () => {}
        } as unknown as PresageBridge;
        const api = bridgeApi(bridge);
        expect(api.mode).toBe("electron");
        expect(api.choosePaths).toBeNull();
        await expect(api.getState()).rejects.toMatchObject({ message: "No model is loaded: load one first.", code: "no-model" });
    });
});
