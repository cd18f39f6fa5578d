import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from "vitest";
import { ask, ensureScreenshotsDir, setMaxTokens, setStrategies, startApp, type App } from "./harness.ts";

/** The chat window in real Chromium against a real `presage serve` with stories260K. */
describe("chat window (browser)", () => {
    let app: App;
    beforeAll(async () => {
        app = await startApp();
    }, 180_000);
    afterAll(async () => {
        await app?.close();
    });

    it("streams an answer and keeps its stats", async () => {
        const { page } = app;
        await ask(page, "Once upon a time");
        const answer = page.getByTestId("message-assistant").last();
        expect((await answer.innerText()).trim().length).toBeGreaterThan(20);
        expect(Number(await page.getByTestId("stats-tokens-per-second").last().innerText())).toBeGreaterThan(0);
        // A ratio, or in words that no guess paid (on this tiny model the governor often keeps every step plain).
        expect(await page.getByTestId("stats-speedup").last().innerText()).toMatch(/^(\d+\.\d+× (faster|slower)|plain speed: no guess pays on this model here)$/);
        expect(await page.getByTestId("stats-ttft").last().innerText()).toMatch(/^first token \d+(\.\d)? ms · prompt \d+$/);
        expect(await page.getByTestId("stats-accepted").last().innerText()).toMatch(/^\d+\/\d+$/);
        expect(await page.getByTestId("message-user").last().innerText()).toContain("Once upon a time");
        // The conversation is saved and listed.
        expect(await page.getByTestId("conversation-item").count()).toBeGreaterThan(0);
        expect(app.problems).toEqual([]);
    });

    it("stops mid-answer and keeps what arrived", async () => {
        const { page } = app;
        // A long answer (stories260K writes ~650 tokens/s here), so the stop lands mid-answer.
        await setMaxTokens(page, 3000);
        await page.getByTestId("new-conversation").click();
        await page.getByTestId("composer").fill("The little dog");
        await page.getByTestId("send").click();
        await page.getByTestId("stop").waitFor();
        await page.waitForFunction(() => (document.querySelector('[data-testid="message-assistant"] .stream-text')?.textContent ?? "").length > 0);
        await page.keyboard.press("Escape");
        await page.getByTestId("send").waitFor({ timeout: 30_000 });
        const answer = page.getByTestId("message-assistant").last();
        expect((await answer.innerText()).length).toBeGreaterThan(0);
        expect(await answer.getByTestId("stop-reason").getAttribute("data-reason")).toBe("abort");
        await answer.getByRole("button", { name: "Speed details" }).click();
        const tokens = Number(/(\d+) tokens in/.exec(await answer.innerText())?.[1]);
        expect(tokens).toBeGreaterThan(0);
        expect(tokens).toBeLessThan(3000);
        await setMaxTokens(page, 512);
        expect(app.problems).toEqual([]);
    });

    it("turning the n-gram strategy on and off shows in the stats", async () => {
        // Its own server: hypothesis reduction learns each source's acceptance across answers, and the
        // other tests' sampled answers can teach it to verify no n-gram guess at all. Uncalibrated, so
        // that whether a guess pays on a busy machine (the reducer's business, tested on its own) does
        // not decide what this test of the window sees: every guess is verified.
        const own = await startApp({ calibrate: false });
        onTestFinished(() => own.close());
        const { page } = own;
        await setStrategies(page, ["ngram"]);
        await page.getByTestId("new-conversation").click();
        // Greedy (one click in the chat bar): the answer repeats itself, so the n-grams have something to guess.
        await page.getByTestId("greedy").check();
        await page.waitForFunction(() => (document.querySelector('[data-testid="greedy"]') as HTMLInputElement).checked);
        await ask(page, "Once upon a time, there was a little girl");
        const last = page.getByTestId("message-assistant").last();
        const [accepted, drafted] = (await last.getByTestId("stats-accepted").innerText()).split("/").map(Number);
        // A greedy answer that repeats itself: the n-grams guess some of it right, and the window shows
        // what the service stored for this answer.
        expect(drafted).toBeGreaterThan(0);
        expect(accepted).toBeGreaterThan(0);
        expect(accepted).toBeLessThanOrEqual(drafted!);
        const [newest] = await own.server.services.api.listConversations();
        const stored = (await own.server.services.api.getConversation(newest!.id)).messages.at(-1)!.stats!;
        expect([accepted, drafted]).toEqual([stored.accepted, stored.drafted]);
        expect(stored.bySource.ngram?.accepted).toBe(accepted);
        await last.getByRole("button", { name: "Speed details" }).click();
        await last.getByTestId("stats-source-ngram").waitFor();

        await setStrategies(page, []);
        await page.getByTestId("new-conversation").click();
        await ask(page, "Once upon a time, there was a little girl");
        expect(await page.getByTestId("message-assistant").last().getByTestId("stats-accepted").innerText()).toBe("0/0");
        expect(own.problems).toEqual([]);
    }, 180_000);

    it("edits a user message and answers it again", async () => {
        const { page } = app;
        await page.getByTestId("new-conversation").click();
        await ask(page, "Tom had a ball");
        await page.getByTestId("message-user").last().hover();
        await page.getByTestId("edit").click();
        await page.getByTestId("edit-message").fill("Lily had a cat");
        await page.getByTestId("edit-save").click();
        await page.getByTestId("stop").waitFor({ state: "detached", timeout: 60_000 }).catch(() => {});
        await page.getByTestId("send").waitFor({ timeout: 60_000 });
        expect(await page.getByTestId("message-user").count()).toBe(1);
        expect(await page.getByTestId("message-user").innerText()).toContain("Lily had a cat");
        expect(await page.getByTestId("message-assistant").count()).toBe(1);
    });

    it("indexes a folder and shows its progress reach done", async () => {
        const { page } = app;
        const folder = mkdtempSync(join(tmpdir(), "presage-docs-"));
        try {
            for (let i = 0; i < 4; i++)
                writeFileSync(join(folder, `story-${i}.txt`), `Once upon a time there was a little cat number ${i}. `.repeat(40));
            writeFileSync(join(folder, "image.bin"), Buffer.from([0, 1, 2, 3, 0, 0, 255]));
            await page.getByTestId("nav-documents").click();
            await page.getByTestId("documents-add-path").fill(folder);
            await page.getByTestId("documents-add").click();
            await page.locator('[data-testid="documents-progress"][data-state="done"]').waitFor({ timeout: 60_000 });
            const source = page.getByTestId("documents-source").filter({ hasText: folder });
            await expect.poll(async () => source.innerText(), { timeout: 10_000 }).toMatch(/4\/\d+ files/);
            expect(await page.getByTestId("documents-totals").innerText()).toMatch(/tokens/);
        } finally {
            rmSync(folder, { recursive: true, force: true });
        }
        expect(app.problems).toEqual([]);
    });

    it("races plain against speculative decoding with identical texts", async () => {
        const { page } = app;
        await page.getByTestId("nav-race").click();
        await page.getByTestId("race-prompt").fill("Once upon a time");
        await page.getByTestId("race-run").click();
        const verdict = page.getByTestId("race-verdict");
        await verdict.waitFor({ timeout: 60_000 });
        expect(await verdict.getAttribute("data-identical")).toBe("true");
        expect(await page.getByTestId("race-plain").locator("pre").innerText()).toBe(await page.getByTestId("race-speculative").locator("pre").innerText());
        // A ratio under 1 reads as slower, never as "0.8× faster".
        const speedup = await page.getByTestId("race-speedup").innerText();
        expect(speedup).toMatch(/^\d+\.\d+× (faster|slower)$/);
        expect(/^0\./.test(speedup) && speedup.endsWith("faster")).toBe(false);
        expect(await page.getByTestId("race-estimate").innerText()).toMatch(/^the stats' estimate: (\d+\.\d+× (faster|slower)|–)$/);
        expect(await page.getByTestId("race-strategy-auto").isChecked()).toBe(true);
        expect(await page.getByText("Auto", { exact: true }).count()).toBeGreaterThan(0);
        expect(await page.getByText("All available").count()).toBe(0);
        expect(app.problems).toEqual([]);
    });

    it("shows the models, the draft check and the backend in use", async () => {
        const { page } = app;
        await page.getByTestId("nav-models").click();
        await page.getByTestId("engine-info").waitFor();
        await expect.poll(() => page.getByTestId("model-target").inputValue(), { timeout: 10_000 }).toContain("stories260K.gguf");
        expect(await page.getByTestId("engine-info").innerText()).toMatch(/CPU/);
        expect(await page.getByTestId("model-draft").count()).toBe(1);
    });

    it("saves screenshots of the main views, light and dark", async () => {
        const { page } = app;
        const dir = ensureScreenshotsDir();
        for (const theme of ["light", "dark"] as const) {
            await page.getByTestId("nav-settings").click();
            await page.getByTestId("theme").selectOption(theme);
            await page.waitForFunction((t) => document.documentElement.dataset.theme === t, theme);
            await page.screenshot({ path: join(dir, `settings-${theme}.png`) });
            await page.getByTestId("nav-chat").click();
            await page.getByTestId("conversation-item").first().getByRole("button").first().click();
            await page.getByTestId("message-assistant").first().waitFor();
            const last = page.getByTestId("message-assistant").last();
            await last.getByRole("button", { name: "Speed details" }).click();
            await page.screenshot({ path: join(dir, `chat-${theme}.png`) });
            await page.getByTestId("colour-tokens").check();
            await page.screenshot({ path: join(dir, `chat-colours-${theme}.png`) });
            await page.getByTestId("colour-tokens").uncheck();
            await page.getByTestId("nav-race").click();
            await page.getByTestId("race-run").click();
            await page.getByTestId("race-verdict").waitFor({ timeout: 60_000 });
            await page.screenshot({ path: join(dir, `race-${theme}.png`) });
            await page.getByTestId("nav-documents").click();
            await page.getByTestId("documents-totals").waitFor();
            await page.screenshot({ path: join(dir, `documents-${theme}.png`) });
            await page.getByTestId("nav-models").click();
            await page.getByTestId("engine-info").waitFor();
            await page.screenshot({ path: join(dir, `models-${theme}.png`) });
        }
        // The smallest supported window.
        await page.setViewportSize({ width: 800, height: 600 });
        await page.getByTestId("nav-chat").click();
        await page.getByTestId("conversation-item").first().getByRole("button").first().click();
        await page.getByTestId("message-assistant").first().waitFor();
        await page.screenshot({ path: join(dir, "chat-800x600-dark.png") });
        await page.getByTestId("nav-settings").click();
        await page.getByTestId("theme").selectOption("light");
        await page.screenshot({ path: join(dir, "settings-800x600-light.png") });
        await page.getByTestId("nav-chat").click();
        await page.getByTestId("conversation-item").first().getByRole("button").first().click();
        await page.getByTestId("message-assistant").first().waitFor();
        await page.screenshot({ path: join(dir, "chat-800x600-light.png") });
        expect(app.problems).toEqual([]);
    });
});
