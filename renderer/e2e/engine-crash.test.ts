import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { engineProcessesUnder } from "../../core/testing/engine-processes.ts";
import { ask, setMaxTokens, startApp, type App } from "./harness.ts";

/** The chat window in real Chromium when the engine process dies under an answer it is streaming. */
describe("the window when the engine process dies (browser)", () => {
    let app: App;
    beforeAll(async () => {
        app = await startApp({ calibrate: false });
    }, 180_000);
    afterAll(async () => {
        await app?.close();
    });

    it("ends the streaming answer with one line, keeps the conversation, and the next message is answered", async () => {
        const { page } = app;
        await ask(page, "Once upon a time");
        const answered = await page.getByTestId("message-assistant").count();
        // A long answer, so the kill lands in the middle of it.
        await setMaxTokens(page, 3000);
        const [engine] = engineProcessesUnder(process.pid);
        expect(engine).toBeDefined();
        await page.getByTestId("composer").fill("The little dog");
        await page.getByTestId("send").click();
        await page.getByTestId("stop").waitFor();
        await page.waitForFunction(() => (document.querySelector('[data-testid="message-assistant"] .stream-text')?.textContent ?? "").length > 0);
        const killedAt = performance.now();
        process.kill(engine!.pid, "SIGKILL");
        await page.getByRole("alert").filter({ hasText: "The model stopped unexpectedly; reloading." }).waitFor({ timeout: 10_000 });
        expect(performance.now() - killedAt).toBeLessThan(5000);
        await page.getByTestId("send").waitFor({ timeout: 10_000 });
        // The question stays, the failed answer is not kept, the earlier answer is as it was.
        expect(await page.getByTestId("message-user").last().innerText()).toContain("The little dog");
        expect(await page.getByTestId("message-assistant").count()).toBe(answered);
        // The next message is answered by the model loaded again, in a new engine process.
        await setMaxTokens(page, 64);
        await ask(page, "A cat sat");
        expect((await page.getByTestId("message-assistant").last().innerText()).trim().length).toBeGreaterThan(0);
        const now = engineProcessesUnder(process.pid);
        expect(now).toHaveLength(1);
        expect(now[0]!.pid).not.toBe(engine!.pid);
    });
});
