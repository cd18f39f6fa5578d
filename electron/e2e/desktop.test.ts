// The desktop check: launches the real Presage in the real Electron (playwright-core's Electron
// support), under Xvfb on Linux without a display, natively elsewhere. Runs as part of `npm test`
// wherever Electron's binary is installed (`npm start` downloads it); elsewhere it is skipped, with
// one line saying why. See README, "The desktop check".
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { _electron, type ElectronApplication, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { builtinModelPath, packageRoot } from "../../native-models/models-dir.ts";
import { electronBinary, prepareDesktop } from "../../scripts/desktop.js";

const name = "desktop app (Electron)";
const binary = electronBinary();
const xvfb = process.platform === "linux" && !process.env.DISPLAY ? findOnPath("Xvfb") : null;
const why = binary == null
    ? "Electron's binary is not installed (node_modules/electron/dist); `npm start` downloads it"
    : process.platform === "linux" && !process.env.DISPLAY && xvfb == null
        ? "no display and no Xvfb to make one (apt-get install xvfb)"
        : null;

function findOnPath(command: string): string | null {
    for (const dir of (process.env.PATH ?? "").split(delimiter)) if (dir !== "" && existsSync(join(dir, command))) return join(dir, command);
    return null;
}

if (why != null) {
    console.warn(`SKIPPED "${name}": ${why}.`);
    describe.skip(name, () => it("launches", () => undefined));
} else
    describe(name, () => {
        const dir = mkdtempSync(join(tmpdir(), "presage-desktop-"));
        let display: ChildProcess | null = null;
        let app: ElectronApplication;
        let page: Page;

        beforeAll(async () => {
            await prepareDesktop({ quiet: true });
            const env: Record<string, string> = {
                ...(process.env as Record<string, string>),
                UV_THREADPOOL_SIZE: "1",
                PRESAGE_DATA_DIR: join(dir, "data"),
                PRESAGE_MODELS_DIR: join(dir, "models")
            };
            if (xvfb != null) {
                const number = 90 + Math.floor(Math.random() * 100);
                display = spawn(xvfb, [`:${number}`, "-screen", "0", "1280x900x24", "-nolisten", "tcp"], { stdio: "ignore" });
                for (let i = 0; i < 100 && !existsSync(`/tmp/.X11-unix/X${number}`); i++) await new Promise((r) => setTimeout(r, 50));
                env.DISPLAY = `:${number}`;
            }
            mkdirSync(env.PRESAGE_MODELS_DIR!, { recursive: true });
            // Chromium will not start its sandbox as root (containers, CI): only there is it turned off.
            const args = [packageRoot, ...(process.getuid?.() === 0 ? ["--no-sandbox"] : [])];
            app = await _electron.launch({ executablePath: binary!, args, env, timeout: 60_000 });
            page = await app.firstWindow();
            await page.getByTestId("composer").waitFor({ timeout: 30_000 });
        }, 120_000);

        afterAll(async () => {
            await app?.close().catch(() => undefined);
            display?.kill();
            rmSync(dir, { recursive: true, force: true });
        });

        it("opens a window whose page has no Node, only window.presage, and cannot open windows", async () => {
            const seen = await page.evaluate(() => ({ require: typeof (globalThis as { require?: unknown }).require, process: typeof (globalThis as { process?: unknown }).process, presage: typeof window.presage?.getState }));
            expect(seen).toEqual({ require: "undefined", process: "undefined", presage: "function" });
            // window.open is denied.
            expect(await page.evaluate(() => window.open("https://example.com/") == null)).toBe(true);
            expect(app.windows()).toHaveLength(1);
        });

        it("answers a prompt with the built-in model, streaming, with a speedup", async () => {
            await page.evaluate(async (model) => {
                await window.presage!.updateSettings({ sampling: { maxTokens: 64 } } as never);
                await window.presage!.loadModel({ target: model });
            }, builtinModelPath);
            await page.getByTestId("composer").fill("Once upon a time");
            await page.getByTestId("composer").press("Enter");
            const answer = page.getByTestId("message-assistant").last();
            await answer.waitFor({ timeout: 30_000 });
            await page.getByTestId("send").waitFor({ timeout: 60_000 });
            expect((await answer.innerText()).trim().length).toBeGreaterThan(10);
            expect(await page.getByTestId("stats-speedup").last().innerText()).toMatch(/×$/);
            // Streamed over IPC: the answer's steps arrive one by one before it is done.
            const types = await page.evaluate(async () => {
                const seen: string[] = [];
                const { id } = await window.presage!.createConversation({ title: "stream" });
                await window.presage!.sendMessage(id, { content: "Tom had a ball" }, (event) => seen.push(event.type));
                return seen;
            });
            expect(types[0]).toBe("start");
            expect(types.filter((t) => t === "step").length).toBeGreaterThan(1);
            expect(types.at(-1)).toBe("done");
        }, 90_000);

        it("opens Settings from the menu (Cmd/Ctrl+,) and takes a screenshot", async () => {
            const accelerator = await app.evaluate(({ Menu }) => {
                const items = Menu.getApplicationMenu()!.items.flatMap((i) => i.submenu?.items ?? []);
                const settings = items.find((i) => i.label.startsWith("Settings"))!;
                settings.click();
                return settings.accelerator;
            });
            expect(accelerator).toBe("CmdOrCtrl+,");
            await page.waitForFunction(() => document.querySelector('[data-testid="nav-settings"]')?.getAttribute("aria-current") === "page");
            mkdirSync(join(packageRoot, "test-results"), { recursive: true });
            await page.screenshot({ path: join(packageRoot, "test-results", "desktop-settings.png") });
        });

        it("quits gracefully, closing the database", async () => {
            const exited = new Promise<number | null>((resolve) => app.process().once("exit", (code) => resolve(code)));
            await app.evaluate(({ app: electronApp }) => electronApp.quit());
            expect(await exited).toBe(0);
            // Closed cleanly: the WAL was checkpointed away.
            expect(existsSync(join(dir, "data", "presage.db-wal")) ? "wal left" : "clean").toBe("clean");
        }, 30_000);
    });
