import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { build } from "vite";
import { findStoriesModel } from "../../native-models/models-dir.ts";
import { startServer, type RunningServer } from "../../server/server.ts";

export const rendererRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const packageRoot = resolve(rendererRoot, "..");
/** Screenshots land here (test-results/ is git-ignored). */
export const screenshotsDir = join(packageRoot, "test-results", "screenshots");

export const chromiumPath = process.env.PRESAGE_CHROMIUM ?? "/usr/bin/chromium";
export const chromiumArgs = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"
];

let built: Promise<string> | null = null;

/** Builds the chat window once per test process, into a temporary folder (renderer/dist is left alone). */
export function buildRenderer(): Promise<string> {
    built ??= (async () => {
        const outDir = mkdtempSync(join(tmpdir(), "presage-renderer-"));
        await build({ configFile: join(rendererRoot, "vite.config.ts"), logLevel: "warn", build: { outDir, emptyOutDir: true } });
        return outDir;
    })();
    return built;
}

export interface App {
    server: RunningServer;
    browser: Browser;
    context: BrowserContext;
    page: Page;
    /** Console errors, page errors and CSP violations seen so far. */
    problems: string[];
    dir: string;
    close(): Promise<void>;
}

/**
 * A real `presage serve` (in process, 127.0.0.1, a free port, a fresh SQLite file, stories260K loaded)
 * and headless Chromium showing its chat window.
 */
/**
 * `calibrate: false` leaves the model's verification cost unmeasured: hypothesis reduction then asks
 * every source and verifies every guess, so what a test sees does not hang on how busy the machine was.
 */
export async function startApp(options: { width?: number; height?: number; colorScheme?: "light" | "dark"; calibrate?: boolean } = {}): Promise<App> {
    const model = findStoriesModel();
    if (model == null) throw new Error("stories260K.gguf is not in the models folder: set PRESAGE_MODELS_DIR or run `npm run models:pull`.");
    const rendererDir = await buildRenderer();
    const dir = mkdtempSync(join(tmpdir(), "presage-e2e-"));
    const server = await startServer({
        host: "127.0.0.1",
        port: 0,
        rendererDir,
        services: { modelsDir: dirname(model), dbPath: join(dir, "presage.sqlite"), threads: 1, ingestWorkers: 1, cacheDir: join(dir, "cache"), ...(options.calibrate === false ? { calibrate: false } : {}) },
        model
    });
    const browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
    const context = await browser.newContext({
        viewport: { width: options.width ?? 1200, height: options.height ?? 780 },
        colorScheme: options.colorScheme ?? "light"
    });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on("console", (m) => {
        if (m.type() === "error") problems.push(`console: ${m.text()}`);
    });
    page.on("pageerror", (e) => problems.push(`pageerror: ${e.message}`));
    await page.addInitScript(() => {
        document.addEventListener("securitypolicyviolation", (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`));
    });
    await page.goto(server.url + "/");
    await page.getByTestId("composer").waitFor();
    return {
        server, browser, context, page, problems, dir,
        async close() {
            await browser.close().catch(() => {});
            await server.close();
            rmSync(dir, { recursive: true, force: true });
        }
    };
}

export function ensureScreenshotsDir(): string {
    mkdirSync(screenshotsDir, { recursive: true });
    return screenshotsDir;
}

/** Sends `text` from the composer and waits for the answer to finish (the send button is back). */
export async function ask(page: Page, text: string): Promise<void> {
    const before = await page.getByTestId("message-assistant").count();
    await page.getByTestId("composer").fill(text);
    await page.getByTestId("composer").press("Enter");
    await page.getByTestId("message-assistant").nth(before).waitFor();
    await page.getByTestId("send").waitFor({ timeout: 60_000 });
}

/** Sets the strategy switches in Settings to exactly `on`. */
export async function setStrategies(page: Page, on: string[]): Promise<void> {
    await page.getByTestId("nav-settings").click();
    // Auto (on by default) sets the single switches aside: turn it off to choose them one by one.
    const auto = page.getByTestId("strategy-toggle-auto");
    if (await auto.isChecked()) {
        await auto.click();
        await page.waitForFunction(() => (document.querySelector('[data-testid="strategy-toggle-auto"]') as HTMLInputElement)?.checked === false);
    }
    for (const name of ["draft", "ngram", "retrieval", "history", "early-exit"]) {
        const toggle = page.getByTestId(`strategy-toggle-${name}`);
        if ((await toggle.isChecked()) !== on.includes(name)) {
            await toggle.click();
            await page.waitForFunction(([n, want]) => (document.querySelector(`[data-testid="strategy-toggle-${n}"]`) as HTMLInputElement)?.checked === want, [name, on.includes(name)] as const);
        }
    }
    await page.getByTestId("nav-chat").click();
}

/** Sets the default answer length in Settings. */
export async function setMaxTokens(page: Page, maxTokens: number): Promise<void> {
    await page.getByTestId("nav-settings").click();
    const field = page.getByLabel("Max tokens", { exact: true });
    await field.fill(String(maxTokens));
    await field.press("Enter");
    await field.blur();
    await page.waitForFunction((n) => (document.querySelector('input[aria-label="Max tokens"]') as HTMLInputElement | null)?.value === String(n), maxTokens);
    await page.getByTestId("nav-chat").click();
}
