import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ask, ensureScreenshotsDir, startApp, type App } from "./harness.ts";

/** What must be on screen at 800×600: measured in the page, not guessed from the CSS. */
async function layout(page: Page) {
    return page.evaluate(() => {
        const box = (selector: string) => {
            const el = document.querySelector<HTMLElement>(selector);
            if (el == null) return null;
            const r = el.getBoundingClientRect();
            const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
            return { top: r.top, bottom: r.bottom, left: r.left, right: r.right, height: r.height, truncated: el.scrollWidth > el.clientWidth, onTop: hit === el || el.contains(hit) };
        };
        const tabs = [...document.querySelectorAll<HTMLElement>("nav.tabs .tab")].map((t) => t.getBoundingClientRect().top);
        return {
            pageHeight: document.documentElement.scrollHeight,
            pageWidth: document.documentElement.scrollWidth,
            header: box("header.top"),
            bar: box("header.bar"),
            strategies: box('[data-testid="strategies"]'),
            composer: box('[data-testid="composer"]'),
            send: box('[data-testid="send"]'),
            tabRows: new Set(tabs.map((t) => Math.round(t))).size
        };
    });
}

function expectFits(l: Awaited<ReturnType<typeof layout>>) {
    expect(l.pageHeight).toBeLessThanOrEqual(600);
    expect(l.pageWidth).toBeLessThanOrEqual(800);
    for (const part of [l.composer, l.send]) {
        expect(part).not.toBeNull();
        expect(part!.top).toBeGreaterThanOrEqual(0);
        expect(part!.bottom).toBeLessThanOrEqual(600);
        expect(part!.right).toBeLessThanOrEqual(800);
        expect(part!.onTop).toBe(true);
    }
    // One row of tabs, a header and a chat bar of one line each, and the strategies in full.
    expect(l.tabRows).toBe(1);
    expect(l.header!.height).toBeLessThanOrEqual(40);
    expect(l.bar!.height).toBeLessThanOrEqual(44);
    expect(l.strategies!.truncated).toBe(false);
}

/** The chat window in real Chromium at the smallest size the README promises. */
describe("chat window at 800×600 (browser)", () => {
    let app: App;
    beforeAll(async () => {
        app = await startApp({ width: 800, height: 600 });
    }, 180_000);
    afterAll(async () => {
        await app?.close();
    });

    it("shows the composer and Send in full, empty and after an answer", async () => {
        const { page } = app;
        expectFits(await layout(page));
        await ask(page, "Once upon a time");
        expectFits(await layout(page));
        await page.getByTestId("strategies").click();
        await page.getByTestId("strategy-panel").waitFor();
        expectFits(await layout(page));
        await page.screenshot({ path: join(ensureScreenshotsDir(), "window-800x600.png") });
        await page.getByTestId("strategies").click();
        // "auto" is on by default: its line names what runs (not early exit) and fits in full.
        const autoLine = await page.getByTestId("strategies").innerText();
        expect(autoLine).toMatch(/^Auto: N-gram · History$/);
        // The single switches' line fits too.
        await page.getByTestId("nav-settings").click();
        await page.getByTestId("strategy-toggle-auto").click();
        await page.waitForFunction(() => !(document.querySelector('[data-testid="strategy-toggle-auto"]') as HTMLInputElement).checked);
        await page.getByTestId("nav-chat").click();
        expect(await page.getByTestId("strategies").innerText()).not.toBe(autoLine);
        expectFits(await layout(page));
        await page.getByTestId("nav-settings").click();
        await page.getByTestId("strategy-toggle-auto").click();
        await page.waitForFunction(() => (document.querySelector('[data-testid="strategy-toggle-auto"]') as HTMLInputElement).checked);
        await page.getByTestId("nav-chat").click();
        expect(app.problems).toEqual([]);
    });

    it("returns to the last conversation after a reload, titled from its first message and dated", async () => {
        const { page } = app;
        await page.getByTestId("new-conversation").click();
        await ask(page, "Tom had a red ball\nand a kite");
        await page.reload();
        await page.getByTestId("composer").waitFor();
        await page.getByTestId("message-user").first().waitFor();
        expect(await page.getByTestId("message-user").first().innerText()).toContain("Tom had a red ball");
        expect(await page.getByRole("heading", { level: 2 }).innerText()).toBe("Tom had a red ball");
        const item = page.getByTestId("conversation-item").filter({ hasText: "Tom had a red ball" });
        expect(await item.getByTestId("conversation-date").innerText()).toBe("just now");
        // A new chat is what a reload shows after "New chat".
        await page.getByTestId("new-conversation").click();
        await page.reload();
        await page.getByTestId("composer").waitFor();
        expect(await page.getByRole("heading", { level: 2 }).innerText()).toBe("New chat");
        expect(await page.getByTestId("message-user").count()).toBe(0);
        expect(app.problems).toEqual([]);
    });

    it("keeps a regenerated answer's earlier version to flip back to", async () => {
        const { page } = app;
        await page.getByTestId("new-conversation").click();
        await ask(page, "Lily had a cat");
        const first = await page.getByTestId("message-assistant").last().locator(".body").innerText();
        await page.getByTestId("regenerate").click();
        await page.getByTestId("version-label").waitFor({ timeout: 60_000 });
        expect(await page.getByTestId("version-label").innerText()).toBe("2/2");
        expect(await page.getByTestId("message-assistant").count()).toBe(1);
        await page.getByTestId("version-previous").click();
        await page.waitForFunction(() => document.querySelector('[data-testid="version-label"]')?.textContent === "1/2");
        expect(await page.getByTestId("message-assistant").last().locator(".body").innerText()).toBe(first);
        // Still the chosen version after a reload.
        await page.reload();
        await page.getByTestId("version-label").waitFor();
        expect(await page.getByTestId("version-label").innerText()).toBe("1/2");
        expect(app.problems).toEqual([]);
    });
});
