import { mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, expect, it } from "vitest";
import { synthesizeModel } from "../../native-models/gguf/synth.ts";
import { describeWithStories } from "../../native-models/testing/stories.ts";
import { startServer, type RunningServer } from "../../server/server.ts";
import { pairPaths, startBlackHole, startModelHost, type ModelHost } from "../../core/testing/model-host.ts";
import { buildRenderer, chromiumArgs, chromiumPath, ensureScreenshotsDir } from "./harness.ts";

/**
 * The first run and the models view in real Chromium against a real `presage serve`: no model chosen,
 * an empty models folder, and a local HTTP server standing in for Hugging Face.
 */
describeWithStories("first run and the models view (browser)", (storiesPath) => {
    let dir: string;
    let host: ModelHost;
    let server: RunningServer;
    let browser: Browser;
    let page: Page;
    const problems: string[] = [];
    const qwen = pairPaths("qwen3-8b");
    const llama = pairPaths("llama-3.1-8b");

    beforeAll(async () => {
        dir = mkdtempSync(join(tmpdir(), "presage-e2e-models-"));
        const stories = readFileSync(storiesPath);
        // Bigger than one of ipull's 5 MiB chunks, and sent slowly, so that pause and resume can be seen.
        const big = Buffer.concat([stories, Buffer.alloc(16 * 1024 * 1024 - stories.length, 0)]);
        await synthesizeModel({ out: join(dir, "synth.gguf"), seed: 7 });
        host = await startModelHost({ [qwen.target]: big, [qwen.draft]: stories, [llama.target]: stories, [llama.draft]: readFileSync(join(dir, "synth.gguf")) }, { delayMs: 40 });
        const rendererDir = await buildRenderer();
        const modelsDir = join(dir, "data", "models");
        server = await startServer({
            host: "127.0.0.1",
            port: 0,
            rendererDir,
            services: { modelsDir, dbPath: join(dir, "data", "presage.db"), threads: 1, ingestWorkers: 1, cacheDir: join(dir, "cache"), calibrate: false, huggingFaceEndpoint: host.url }
        });
        // What `presage serve` does at start: the last used model, else the built-in one.
        void server.services.restoreModels();
        browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
        const context = await browser.newContext({ viewport: { width: 1200, height: 860 }, colorScheme: "light" });
        page = await context.newPage();
        page.on("console", (m) => {
            if (m.type() === "error") problems.push(`console: ${m.text()}`);
        });
        page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
        await page.goto(server.appUrl);
        await page.getByTestId("composer").waitFor();
    }, 180_000);
    afterAll(async () => {
        await browser?.close().catch(() => {});
        await server?.close();
        await host?.close();
        rmSync(dir, { recursive: true, force: true });
    });

    it("answers on first run with the built-in model, no click needed, and says which model it is", async () => {
        const badge = page.getByTestId("engine-badge");
        await expect.poll(() => badge.innerText(), { timeout: 60_000 }).toMatch(/^stories260K\.gguf \(demo\) · CPU/);
        await page.screenshot({ path: join(ensureScreenshotsDir(), "first-run-light.png") });
        await page.getByTestId("composer").fill("Once upon a time");
        await page.getByTestId("composer").press("Enter");
        await page.getByTestId("message-assistant").first().waitFor();
        await page.getByTestId("send").waitFor({ timeout: 60_000 });
        expect((await page.getByTestId("message-assistant").first().innerText()).trim().length).toBeGreaterThan(0);
        expect(problems).toEqual([]);
    });

    it("shows the models folder (created, empty, said plainly) and the built-in model", async () => {
        await page.getByTestId("nav-models").click();
        await page.getByTestId("engine-info").waitFor();
        expect(await page.getByTestId("models-folder-path").innerText()).toBe(join(dir, "data", "models"));
        await expect.poll(() => page.getByTestId("models-folder-state").innerText()).toMatch(/The folder is empty/);
        expect(await page.getByTestId("engine-info").innerText()).toMatch(/built-in demo model/);
        // In a browser the folder cannot be opened: its path is shown instead, and Change… takes a typed path.
        expect(await page.getByTestId("models-folder-open").count()).toBe(0);
        await page.screenshot({ path: join(ensureScreenshotsDir(), "models-light.png"), fullPage: true });
        expect(problems).toEqual([]);
    });

    it("downloads a recommended pair with progress, cancels, resumes, pauses, resumes, checks it and loads it", async () => {
        const pair = page.getByTestId("pair-qwen3-8b");
        await pair.getByTestId("pair-download").click();
        const transfer = pair.getByTestId("pair-transfer");
        await expect.poll(() => transfer.innerText(), { timeout: 30_000 }).toMatch(/^[\d.]+ (KB|MB) of 17\.\d MB · [\d.]+ (KB|MB)\/s · .+ left$/);
        await pair.getByTestId("pair-cancel").click();
        await expect.poll(() => pair.getByTestId("pair-status").innerText()).toMatch(/^Cancelled; the part downloaded \([\d.]+ (KB|MB)\) is kept/);
        await pair.getByTestId("pair-download").click();
        await transfer.waitFor({ timeout: 10_000 });
        await pair.getByTestId("pair-pause").click();
        await expect.poll(() => pair.getByTestId("pair-status").innerText()).toMatch(/^Paused at [\d.]+ (KB|MB) of 17\.\d MB/);
        expect(await pair.getByTestId("pair-download").innerText()).toBe("Resume");
        await pair.getByTestId("pair-download").click();
        await pair.getByTestId("pair-ready").waitFor({ timeout: 60_000 });
        expect(await pair.getByTestId("pair-ready").innerText()).toMatch(/share a vocabulary/);
        await page.screenshot({ path: join(ensureScreenshotsDir(), "models-pair-ready-light.png"), fullPage: true });
        await pair.getByTestId("pair-load").click();
        await expect.poll(() => page.getByTestId("engine-info").innerText(), { timeout: 60_000 }).toMatch(/Qwen_Qwen3-8B-Q4_K_M\.gguf[\s\S]*Qwen_Qwen3-0\.6B-Q8_0\.gguf/);
        expect(await pair.innerText()).toMatch(/In use/);
        expect(await page.getByTestId("models-folder-state").innerText()).toMatch(/2 models in the folder/);
        expect(problems).toEqual([]);
    });

    it("refuses a downloaded pair whose vocabularies differ, saying why", async () => {
        const pair = page.getByTestId("pair-llama-3.1-8b");
        await pair.getByTestId("pair-download").click();
        await pair.getByTestId("pair-error").waitFor({ timeout: 60_000 });
        expect(await pair.getByTestId("pair-error").innerText()).toMatch(/^The draft cannot draft for this target: the target has 512 tokens and the draft \d+\.$/);
        expect(problems).toEqual([]);
    });

    it("fails a download that cannot reach the network within 30 s, with one line saying so", async () => {
        const hole = await startBlackHole();
        try {
            const t0 = performance.now();
            await page.getByTestId("download-uri").fill(`${hole.url}/model.gguf`);
            await page.getByTestId("download-start").click();
            const item = page.locator('[data-testid="download-item"][data-state="error"]');
            await item.waitFor({ timeout: 30_000 });
            expect(performance.now() - t0).toBeLessThan(30_000);
            const message = await item.getByTestId("download-status").innerText();
            expect(message).toMatch(/^The network cannot be reached: 127\.0\.0\.1:\d+ did not answer/);
            expect(message.split("\n")).toHaveLength(1);
            expect(await item.getByTestId("download-resume").innerText()).toBe("Try again");
        } finally {
            await hole.close();
        }
    });

    it("changes the models folder to a typed path", async () => {
        const other = join(dir, "other-models");
        mkdirSync(other);
        await page.getByTestId("models-folder-change").click();
        await page.getByTestId("models-folder-input").fill("not/absolute");
        await page.getByTestId("models-folder-save").click();
        await expect.poll(() => page.getByRole("alert").filter({ hasText: "not an absolute path" }).count()).toBe(1);
        await page.getByTestId("models-folder-input").fill(other);
        await page.getByTestId("models-folder-save").click();
        await expect.poll(() => page.getByTestId("models-folder-path").innerText()).toBe(other);
        expect(await page.getByTestId("models-folder-state").innerText()).toMatch(/The folder is empty/);
        expect(server.services.models.modelsDir).toBe(other);
    });
});
