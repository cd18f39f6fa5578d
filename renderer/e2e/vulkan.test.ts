import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findStoriesModel } from "../../native-models/models-dir.ts";
import { firstGpuLoadNote } from "../../native-models/runtime/gpu-first-load.ts";
import { getRuntime } from "../../native-models/runtime/llama-runtime.ts";
import { ask, setMaxTokens, startApp, type App } from "./harness.ts";

// Mesa's llvmpipe, a software Vulkan device ggml lists only when named: named here, in the tests
// alone, before the engine process starts (it inherits this process's environment).
process.env.GGML_VK_VISIBLE_DEVICES ??= "0";

const devices = await getRuntime({ backend: "vulkan" }).then((l) => l.getGpuDeviceNames()).catch(() => [] as string[]);
const why = findStoriesModel() == null ? "stories260K.gguf is missing" : devices.length === 0 ? "no Vulkan device here (apt-get install mesa-vulkan-drivers)" : null;
const name = "Settings → Backend: Vulkan in the window (browser, llvmpipe)";

if (why != null && process.env.CI === "true")
    describe(name, () => {
        throw new Error(`${why}: CI installs it`);
    });
else if (why != null) {
    console.warn(`SKIPPED "${name}": ${why}`);
    describe.skip(name, () => undefined);
} else
    describe(name, () => {
        let app: App;
        beforeAll(async () => {
            app = await startApp({ calibrate: false });
        }, 180_000);
        afterAll(async () => {
            await app?.close();
        });

        it("reloads the model on the device, says a first load prepares the GPU, shows the device and the offloaded layers, and goes back to the CPU", async () => {
            const { page } = app;
            const badge = page.getByTestId("engine-badge");
            await expect.poll(() => badge.innerText(), { timeout: 60_000 }).toMatch(/· CPU$/);
            await setMaxTokens(page, 16);

            await page.getByTestId("nav-settings").click();
            // With Mesa's shader cache warm the load takes a fraction of a second and the note shows for
            // as little as 0.1 s: a polling locator can miss it, so the page records every note it shows.
            await page.evaluate(() => {
                const seen: string[] = ((window as unknown as { loadingNotes: string[] }).loadingNotes = []);
                new MutationObserver(() => {
                    for (const n of document.querySelectorAll("[data-testid=model-loading-note]")) if (!seen.includes(n.textContent ?? "")) seen.push(n.textContent ?? "");
                }).observe(document.body, { subtree: true, childList: true, characterData: true });
            });
            await page.getByTestId("backend").selectOption("vulkan");
            // The first load compiles llvmpipe's kernels (~40 s; Mesa caches them for later runs).
            await expect.poll(() => badge.innerText(), { timeout: 240_000, interval: 250 }).toMatch(/· VULKAN \(llvmpipe.*, \d+\/\d+ layers\)$/);
            const [, offloaded, layers] = (await badge.innerText()).match(/, (\d+)\/(\d+) layers\)$/)!;
            expect(Number(offloaded)).toBeGreaterThan(0);
            expect(Number(offloaded)).toBeLessThanOrEqual(Number(layers));
            // A fresh cache (the app's own, per test): this backend, device and model never loaded there.
            expect(await page.evaluate(() => (window as unknown as { loadingNotes: string[] }).loadingNotes)).toEqual([`· ${firstGpuLoadNote}`]);
            expect(await page.getByTestId("model-loading-note").count()).toBe(0);

            await page.getByTestId("nav-models").click();
            expect(await page.getByTestId("backend-in-use").innerText()).toMatch(/^VULKAN · llvmpipe/);
            expect(await page.getByTestId("offloaded-layers").innerText()).toMatch(new RegExp(`^${offloaded} of ${layers} layers · .* device memory in use$`));

            // It answers there.
            await page.getByTestId("nav-chat").click();
            await ask(page, "Once upon a time");
            expect((await page.getByTestId("message-assistant").last().innerText()).trim().length).toBeGreaterThan(0);

            await page.getByTestId("nav-settings").click();
            await page.getByTestId("backend").selectOption("cpu");
            await expect.poll(() => badge.innerText(), { timeout: 60_000, interval: 250 }).toMatch(/· CPU$/);
            await page.getByTestId("nav-models").click();
            expect(await page.getByTestId("backend-in-use").innerText()).toMatch(/^CPU · no GPU device/);
            expect(await page.getByTestId("offloaded-layers").count()).toBe(0);
            expect(app.problems).toEqual([]);
        }, 420_000);
    });
