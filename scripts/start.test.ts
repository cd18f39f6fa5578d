import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, expect, it } from "vitest";
import { packageRoot } from "../native-models/models-dir.ts";

let server: Server;
let mirror = "";
const requests: string[] = [];
const dir = mkdtempSync(join(tmpdir(), "presage-start-"));

beforeAll(async () => {
    // Electron's download mirror, refusing everything: the download fails here as it does without GitHub.
    server = createServer((req, res) => {
        requests.push(req.url ?? "");
        res.writeHead(404).end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    mirror = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});
afterAll(async () => {
    await new Promise((resolve) => server?.close(resolve));
    rmSync(dir, { recursive: true, force: true });
});

it("npm start, where Electron cannot be downloaded, prints one line pointing to `presage serve` and exits 1", async () => {
    const env: NodeJS.ProcessEnv = {
        ...process.env,
        // An empty Electron folder (so an installed Electron does not count) and an empty download cache.
        ELECTRON_OVERRIDE_DIST_PATH: join(dir, "electron-dist"),
        electron_config_cache: join(dir, "cache"),
        ELECTRON_MIRROR: mirror
    };
    const { code, output } = await new Promise<{ code: number | null; output: string }>((resolve) => {
        const child = spawn(process.execPath, [join(packageRoot, "scripts", "start.js")], { cwd: packageRoot, env });
        let output = "";
        child.stdout.on("data", (d) => (output += d));
        child.stderr.on("data", (d) => (output += d));
        child.on("exit", (code) => resolve({ code, output }));
    });
    // The download was really tried (and refused).
    expect(requests.some((url) => url.includes("electron-v"))).toBe(true);
    expect(code).toBe(1);
    expect(output).toBe("presage: Electron could not be downloaded here; run the same app in a browser with `npx presage serve`.\n");
}, 60_000);
