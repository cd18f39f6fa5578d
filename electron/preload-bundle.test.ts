import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { expect, it } from "vitest";
import { packageRoot } from "../native-models/models-dir.ts";
import { buildElectron } from "../scripts/build-electron.js";
import { invokeChannels } from "./ipc-channels.ts";

it("bundles a preload that needs only electron and exposes only window.presage", async () => {
    const out = await buildElectron();
    const code = readFileSync(join(out, "preload.cjs"), "utf8");
    const required: string[] = [];
    const exposed: Record<string, unknown> = {};
    const electron = {
        contextBridge: { exposeInMainWorld: (key: string, value: unknown) => void (exposed[key] = value) },
        ipcRenderer: { invoke: async () => ({ ok: true, value: null }), on: () => undefined, removeListener: () => undefined }
    };
    const module = { exports: {} };
    new Function("require", "module", "exports", code)((name: string) => {
        required.push(name);
        if (name !== "electron") throw new Error(`a sandboxed preload cannot require ${name}`);
        return electron;
    }, module, module.exports);
    expect(required).toEqual(["electron"]);
    expect(Object.keys(exposed)).toEqual(["presage"]);
    const bridge = exposed.presage as Record<string, unknown>;
    expect(Object.keys(bridge).filter((k) => k !== "onAppEvent").sort()).toEqual(Object.keys(invokeChannels).sort());
    expect(readFileSync(join(out, "main.js"), "utf8")).toContain('import("../main.ts")');
});

it("npm start says in one line to use `presage serve` when Electron cannot run here", () => {
    const result = spawnSync(process.execPath, [join(packageRoot, "scripts", "start.js")], { encoding: "utf8", env: { ...process.env, ELECTRON_OVERRIDE_DIST_PATH: "/nonexistent" } });
    if (result.status === 1 && result.stderr.includes("presage serve")) {
        expect(result.stderr.trim().split("\n")).toHaveLength(1);
        return;
    }
    // A machine with Electron installed gets past the check; nothing to assert there.
    expect(result.error).toBeUndefined();
});
