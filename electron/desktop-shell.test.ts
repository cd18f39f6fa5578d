import { EventEmitter } from "node:events";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeEach, describe, expect, it, vi } from "vitest";
import { builtinModelPath, packageRoot } from "../native-models/models-dir.ts";
import { createAppServices } from "../core/app-services.ts";

// Electron's API, replaced at the module boundary by a recording fake: the modules under test are real.
const electron = vi.hoisted(() => ({
    opened: [] as string[],
    menus: [] as unknown[],
    shell: { openExternal: async (url: string) => void electron.opened.push(url) },
    Menu: {
        buildFromTemplate: (template: unknown) => ({ template }),
        setApplicationMenu: (menu: unknown) => void electron.menus.push(menu)
    },
    forks: [] as { modulePath: string; args: string[]; options: { serviceName?: string; env?: Record<string, string | undefined>; stdio?: unknown }; child: EventEmitter & { pid: number | undefined; posted: unknown[]; killed: number } }[],
    utilityProcess: {
        fork(modulePath: string, args: string[], options: {}) {
            const child = Object.assign(new EventEmitter(), { pid: undefined as number | undefined, posted: [] as unknown[], killed: 0, postMessage: (_m: unknown) => undefined as void, kill: () => true });
            child.postMessage = (m: unknown) => void child.posted.push(m);
            child.kill = () => (child.killed++, true);
            electron.forks.push({ modulePath, args, options, child });
            return child;
        }
    }
}));
vi.mock("electron", () => ({ shell: electron.shell, Menu: electron.Menu, utilityProcess: electron.utilityProcess }));

const { mainWindowOptions, minimumWindowSize } = await import("./window-options.ts");
const { electronContentSecurityPolicy, secureSession, secureWebContents } = await import("./security.ts");
const { installMenu, menuTemplate } = await import("./menu.ts");
const { externalUrl } = await import("./external-links.ts");
const { fitToDisplays, readWindowState, trackWindowState } = await import("./window-state.ts");
const { installGracefulQuit } = await import("./graceful-quit.ts");
const { addModelFile, handleDroppedPaths } = await import("./dropped-files.ts");
const { utilityEngineLauncher } = await import("./engine-launcher.ts");

const page = pathToFileURL("/opt/Presage/resources/app.asar/renderer/dist/index.html").href;
const dir = mkdtempSync(join(tmpdir(), "presage-shell-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeEach(() => {
    electron.opened.length = 0;
    electron.menus.length = 0;
});

describe("the window", () => {
    it("runs the page sandboxed, isolated, without Node, with web security", () => {
        const options = mainWindowOptions({ preload: "/app/electron/dist/preload.cjs" });
        expect(options.webPreferences).toEqual({
            preload: "/app/electron/dist/preload.cjs",
            contextIsolation: true,
            sandbox: true,
            nodeIntegration: false,
            nodeIntegrationInWorker: false,
            nodeIntegrationInSubFrames: false,
            webviewTag: false,
            webSecurity: true,
            allowRunningInsecureContent: false,
            experimentalFeatures: false,
            navigateOnDragDrop: false,
            safeDialogs: true,
            spellcheck: true
        });
        expect(options).toMatchObject({ width: 1200, height: 800, minWidth: 640, minHeight: 480, show: false });
        expect(options.x).toBeUndefined();
    });

    it("opens where it was left, if that is still on a screen", () => {
        const screens = [{ x: 0, y: 0, width: 1920, height: 1080 }];
        const saved = { x: 100, y: 80, width: 1000, height: 700, maximized: false };
        expect(mainWindowOptions({ preload: "p", state: fitToDisplays(saved, screens) })).toMatchObject({ x: 100, y: 80, width: 1000, height: 700 });
        // Its monitor was unplugged: default place, same size.
        const offscreen = fitToDisplays({ ...saved, x: 2500 }, screens)!;
        expect(offscreen).toEqual({ width: 1000, height: 700, maximized: false });
        // Bigger than any screen now: shrunk to fit; never under the minimum.
        expect(fitToDisplays({ ...saved, width: 5000, height: 4000 }, screens)).toMatchObject({ width: 1920, height: 1080 });
        expect(fitToDisplays({ ...saved, width: 10, height: 10 }, screens)).toMatchObject(minimumWindowSize);
        // A second screen to the left, at negative coordinates, counts.
        expect(fitToDisplays({ ...saved, x: -1500 }, [...screens, { x: -1920, y: 0, width: 1920, height: 1080 }])).toMatchObject({ x: -1500 });
    });

    it("saves its place when moved, resized or closed, and reads it back", async () => {
        const file = join(dir, "state", "window-state.json");
        expect(readWindowState(file)).toBeNull();
        const win = Object.assign(new EventEmitter(), {
            bounds: { x: 10, y: 20, width: 900, height: 650 },
            maximized: false,
            getNormalBounds() { return this.bounds; },
            isMaximized() { return this.maximized; }
        });
        trackWindowState(win, file, 20);
        win.emit("move");
        win.bounds = { x: 30, y: 40, width: 901, height: 651 };
        win.emit("resize");
        await new Promise((r) => setTimeout(r, 80));
        expect(readWindowState(file)).toEqual({ x: 30, y: 40, width: 901, height: 651, maximized: false });
        win.maximized = true;
        win.emit("close");
        expect(readWindowState(file)).toEqual({ x: 30, y: 40, width: 901, height: 651, maximized: true });
        writeFileSync(file, "{ not json");
        expect(readWindowState(file)).toBeNull();
        writeFileSync(file, JSON.stringify({ width: "wide", height: 3, maximized: false }));
        expect(readWindowState(file)).toBeNull();
    });
});

/** A recording stand-in for a Session: the handlers our code installs, to call them as Electron would. */
function fakeSession() {
    const installed: Record<string, (...args: never[]) => unknown> = {};
    const session = {
        setPermissionRequestHandler: (h: never) => void (installed.request = h),
        setPermissionCheckHandler: (h: never) => void (installed.check = h),
        setDevicePermissionHandler: (h: never) => void (installed.device = h),
        webRequest: { onHeadersReceived: (h: never) => void (installed.headers = h) }
    };
    return { session, installed };
}

/** A recording stand-in for a WebContents. */
function fakeContents() {
    const emitter = new EventEmitter();
    let openHandler: ((details: { url: string }) => { action: string }) | null = null;
    const contents = Object.assign(emitter, { setWindowOpenHandler: (h: typeof openHandler) => void (openHandler = h) });
    const event = () => ({ prevented: false, preventDefault() { this.prevented = true; } });
    return {
        contents,
        open: (url: string) => openHandler!({ url }),
        navigate(name: "will-navigate" | "will-redirect" | "will-attach-webview", url = "") {
            const e = event();
            emitter.emit(name, e, url);
            return e.prevented;
        }
    };
}

describe("security", () => {
    it("refuses every permission, asked or checked, and puts the CSP on every response", async () => {
        const { session, installed } = fakeSession();
        secureSession(session as never, electronContentSecurityPolicy);
        for (const permission of ["media", "geolocation", "notifications", "clipboard-read", "openExternal", "fullscreen"]) {
            const answers: boolean[] = [];
            (installed.request as (...a: unknown[]) => void)({}, permission, (granted: boolean) => answers.push(granted), {});
            expect(answers).toEqual([false]);
            expect((installed.check as (...a: unknown[]) => boolean)({}, permission, "file://", {})).toBe(false);
        }
        expect((installed.device as (...a: unknown[]) => boolean)({ deviceType: "usb" })).toBe(false);
        const headers: unknown[] = [];
        (installed.headers as (...a: unknown[]) => void)({ responseHeaders: { "content-type": ["text/html"], "Content-Security-Policy": ["default-src *"] } }, (r: unknown) => headers.push(r));
        expect(headers).toEqual([{ responseHeaders: { "content-type": ["text/html"], "Content-Security-Policy": [electronContentSecurityPolicy] } }]);
    });

    it("has a CSP with no inline or eval code and no network, the same as the built page's", () => {
        for (const directive of ["default-src 'none'", "script-src 'self'", "connect-src 'none'", "object-src 'none'", "frame-src 'none'", "base-uri 'none'"])
            expect(electronContentSecurityPolicy).toContain(directive);
        expect(electronContentSecurityPolicy).not.toMatch(/unsafe|\*/);
        const html = readFileSync(join(packageRoot, "renderer", "index.html"), "utf8");
        const meta = /http-equiv="Content-Security-Policy"\s+content="([^"]+)"/.exec(html)?.[1];
        expect(meta).toMatch(/default-src 'none'/);
        expect(meta).toMatch(/script-src 'self'/);
        expect(meta).not.toMatch(/unsafe/);
    });

    it("leaves the dev server's page its own CSP", () => {
        const { session, installed } = fakeSession();
        secureSession(session as never, null);
        expect(installed.headers).toBeUndefined();
        expect(installed.request).toBeDefined();
    });

    it("denies new windows, opening plain http(s) links in the system browser instead", async () => {
        const c = fakeContents();
        secureWebContents(c.contents as never, { fileUrl: page });
        for (const url of ["https://example.com/a?b#c", "http://localhost:8080/", "file:///etc/passwd", "javascript:alert(1)", "smb://host/share", "https://user:pw@example.com/", "about:blank"])
            expect(c.open(url)).toEqual({ action: "deny" });
        await new Promise((r) => setImmediate(r));
        expect(electron.opened).toEqual(["https://example.com/a?b#c", "http://localhost:8080/"]);
    });

    it("keeps the window on our page: links leave for the browser, other navigation is stopped", async () => {
        const c = fakeContents();
        secureWebContents(c.contents as never, { fileUrl: page });
        expect(c.navigate("will-navigate", page + "#/settings")).toBe(false);
        expect(c.navigate("will-navigate", "https://example.com/story")).toBe(true);
        expect(c.navigate("will-navigate", "file:///home/u/model.gguf")).toBe(true);
        expect(c.navigate("will-navigate", "presage-evil://x")).toBe(true);
        expect(c.navigate("will-redirect", "https://example.com/")).toBe(true);
        expect(c.navigate("will-redirect", page)).toBe(false);
        expect(c.navigate("will-attach-webview")).toBe(true);
        await new Promise((r) => setImmediate(r));
        expect(electron.opened).toEqual(["https://example.com/story"]);
    });

    it("opens only plain http(s) addresses to named hosts", () => {
        expect(externalUrl("https://example.com")).toBe("https://example.com/");
        expect(externalUrl("HTTP://EXAMPLE.com/x")).toBe("http://example.com/x");
        for (const url of ["", "example.com", "file:///x", "javascript:void(0)", "data:text/html,hi", "mailto:a@b.c", "https://a:b@example.com", "http://@/", "vbscript:x"])
            expect(externalUrl(url), url).toBeNull();
    });
});

type Item = { role?: string; label?: string; accelerator?: string; type?: string; submenu?: Item[]; click?: () => void };

describe("the menu", () => {
    const build = (isMac: boolean, isPackaged: boolean) => {
        const commands: string[] = [];
        const template = menuTemplate({ isMac, isPackaged, appName: "Presage", command: (c) => commands.push(c) }) as Item[];
        const find = (label: string) => template.find((m) => m.label === label)!;
        const roles = (label: string) => find(label).submenu!.filter((i) => i.role != null).map((i) => i.role);
        const all = template.flatMap((m) => m.submenu ?? []);
        return { template, commands, find, roles, all };
    };

    it("has the standard editing, view and window roles", () => {
        for (const isMac of [false, true]) {
            const m = build(isMac, true);
            expect(m.roles("Edit")).toEqual(expect.arrayContaining(["undo", "redo", "cut", "copy", "paste", "selectAll"]));
            expect(m.roles("View")).toEqual(["resetZoom", "zoomIn", "zoomOut", "togglefullscreen"]);
            expect(m.roles("Window")).toContain("minimize");
        }
        expect(build(true, true).template[0]!.submenu!.map((i) => i.role).filter(Boolean)).toEqual(["about", "services", "hide", "hideOthers", "unhide", "quit"]);
        expect(build(true, true).roles("File")).toEqual(["close"]);
        expect(build(false, true).roles("File")).toEqual(["quit"]);
    });

    it("offers reload and developer tools in development only", () => {
        expect(build(false, false).roles("View")).toEqual(expect.arrayContaining(["reload", "forceReload", "toggleDevTools"]));
        expect(build(false, true).all.some((i) => i.role === "reload" || i.role === "toggleDevTools")).toBe(false);
    });

    it("has New Chat on Cmd/Ctrl+N and Settings on Cmd/Ctrl+, and they reach the window", () => {
        for (const isMac of [false, true]) {
            const m = build(isMac, true);
            const newChat = m.all.find((i) => i.label === "New Chat")!;
            const settings = m.all.find((i) => i.label?.startsWith("Settings"))!;
            expect(newChat.accelerator).toBe("CmdOrCtrl+N");
            expect(settings.accelerator).toBe("CmdOrCtrl+,");
            newChat.click!();
            settings.click!();
            expect(m.commands).toEqual(["new-chat", "settings"]);
            // Each shortcut belongs to one item.
            const accelerators = m.all.map((i) => i.accelerator).filter(Boolean);
            expect(new Set(accelerators).size).toBe(accelerators.length);
        }
        // macOS keeps Settings in the app menu, elsewhere it is in File.
        expect(build(true, true).template[0]!.submenu!.some((i) => i.label === "Settings…")).toBe(true);
        expect(build(false, true).find("File").submenu!.some((i) => i.label === "Settings")).toBe(true);
    });

    it("is installed through Electron's Menu", () => {
        installMenu({ isMac: false, isPackaged: true, appName: "Presage", command: () => undefined });
        expect(electron.menus).toHaveLength(1);
        expect((electron.menus[0] as { template: Item[] }).template.map((m) => m.label)).toEqual(["File", "Edit", "View", "Window"]);
    });
});

describe("quitting", () => {
    function fakeApp() {
        class FakeApp extends EventEmitter {
            quits = 0;
            exits: number[] = [];
            quit() {
                this.quits++;
                this.emit("before-quit", beforeQuitEvent());
            }
            exit(code = 0) {
                this.exits.push(code);
            }
        }
        const app = new FakeApp();
        const events: { prevented: boolean }[] = [];
        function beforeQuitEvent() {
            const e = { prevented: false, preventDefault() { e.prevented = true; } };
            events.push(e);
            return e;
        }
        return { app, events, quitByUser: () => app.emit("before-quit", beforeQuitEvent()) };
    }

    it("waits for the services to close, then quits once", async () => {
        const { app, events, quitByUser } = fakeApp();
        let finish!: () => void;
        let closes = 0;
        installGracefulQuit(app, () => new Promise<void>((r) => { closes++; finish = r; }));
        quitByUser();
        quitByUser();
        expect(events.map((e) => e.prevented)).toEqual([true, true]);
        expect(closes).toBe(1);
        expect(app.quits).toBe(0);
        finish();
        await new Promise((r) => setImmediate(r));
        expect(app.quits).toBe(1);
        // The quit that follows the close goes through.
        expect(events.at(-1)!.prevented).toBe(false);
    });

    it("closes the real services: database checkpointed and closed", async () => {
        const { app, quitByUser } = fakeApp();
        const dbPath = join(dir, "quit", "presage.db");
        const services = createAppServices({ modelsDir: join(dir, "quit", "models"), dbPath, calibrate: false });
        await services.api.createConversation({ title: "kept" });
        expect(existsSync(`${dbPath}-wal`)).toBe(true);
        installGracefulQuit(app, () => services.close());
        quitByUser();
        await vi.waitFor(() => expect(app.quits).toBe(1));
        expect(services.datastore.isOpen).toBe(false);
        expect(existsSync(`${dbPath}-wal`) ? readFileSync(`${dbPath}-wal`).length : 0).toBe(0);
        const reopened = createAppServices({ modelsDir: join(dir, "quit", "models"), dbPath, calibrate: false });
        expect((await reopened.api.listConversations()).map((c) => c.title)).toEqual(["kept"]);
        await reopened.close();
    });

    it("quits anyway when closing hangs", async () => {
        const { app } = fakeApp();
        const errors = vi.spyOn(console, "error").mockImplementation(() => undefined);
        installGracefulQuit(app, () => new Promise<void>(() => undefined), 30);
        app.emit("before-quit", { preventDefault() {} });
        await new Promise((r) => setTimeout(r, 80));
        expect(app.exits).toEqual([0]);
        expect(errors).toHaveBeenCalledWith("presage: closing took longer than 0.03 s; quitting anyway.");
        errors.mockRestore();
    });
});

describe("dropped and chosen files", () => {
    const models = join(dir, "models");
    const elsewhere = join(dir, "downloads");
    mkdirSync(elsewhere, { recursive: true });

    it("copies a .gguf into the models folder, once", async () => {
        const source = join(elsewhere, "stories260K.gguf");
        copyFileSync(builtinModelPath, source);
        const dest = await addModelFile(source, models);
        expect(dest).toBe(join(models, "stories260K.gguf"));
        expect(readFileSync(dest).equals(readFileSync(source))).toBe(true);
        expect(await addModelFile(source, models)).toBe(dest);
        expect(readdirSync(models)).toEqual(["stories260K.gguf"]);
    });

    it("refuses what is not a usable model, in one line, and leaves the folder as it was", async () => {
        const truncated = join(elsewhere, "broken.gguf");
        writeFileSync(truncated, readFileSync(builtinModelPath).subarray(0, 100));
        const text = join(elsewhere, "notes.txt");
        writeFileSync(text, "hello");
        const other = join(elsewhere, "other", "stories260K.gguf");
        mkdirSync(join(elsewhere, "other"));
        writeFileSync(other, readFileSync(builtinModelPath).subarray(0, 100));
        await expect(addModelFile(truncated, models)).rejects.toMatchObject({ code: "invalid-model", message: expect.stringMatching(/^broken\.gguf is not a usable GGUF file: [^\n]+$/) });
        await expect(addModelFile(text, models)).rejects.toMatchObject({ code: "invalid-request", message: "notes.txt is not a model: Presage adds .gguf files." });
        await expect(addModelFile(join(elsewhere, "gone.gguf"), models)).rejects.toMatchObject({ code: "not-found" });
        // Same name, different file: not overwritten (the truncated copy is refused as a model first).
        const different = join(elsewhere, "different", "stories260K.gguf");
        mkdirSync(join(elsewhere, "different"));
        const bytes = readFileSync(builtinModelPath);
        writeFileSync(different, Buffer.concat([bytes, Buffer.from([0])]));
        await expect(addModelFile(different, models)).rejects.toMatchObject({ code: "conflict" });
        expect(readdirSync(models)).toEqual(["stories260K.gguf"]);
        expect(readFileSync(join(models, "stories260K.gguf")).equals(bytes)).toBe(true);
    });

    it("on a drop: models to the models folder, folders and other files to the documents, failures reported", async () => {
        const docs = join(elsewhere, "docs");
        mkdirSync(docs);
        const model = join(elsewhere, "drop-model.gguf");
        copyFileSync(builtinModelPath, model);
        const indexed: string[] = [];
        const outcome = await handleDroppedPaths([model, docs, join(elsewhere, "notes.txt"), join(elsewhere, "broken.gguf"), join(elsewhere, "missing")], {
            modelsDir: models,
            addDocuments: async (path) => void indexed.push(path)
        });
        expect(outcome.models).toEqual([join(models, "drop-model.gguf")]);
        expect(outcome.documents).toEqual([docs, join(elsewhere, "notes.txt")]);
        expect(indexed).toEqual(outcome.documents);
        expect(outcome.errors).toHaveLength(2);
        expect(outcome.errors[0]).toMatch(/^broken\.gguf is not a usable GGUF file/);
        expect(outcome.errors[1]).toBe(`There is nothing at ${join(elsewhere, "missing")}.`);
        expect(existsSync(join(models, "broken.gguf"))).toBe(false);
    });
});

describe("the engine's utility process", () => {
    it("starts the bundled engine titled presage-engine with one libuv pool thread, and carries the protocol's messages both ways", () => {
        const channel = utilityEngineLauncher("/opt/Presage/resources/app.asar/electron/dist/engine-child.js")();
        const fork = electron.forks.at(-1)!;
        expect(fork.modulePath).toBe("/opt/Presage/resources/app.asar/electron/dist/engine-child.js");
        expect(fork.options.serviceName).toBe("presage-engine");
        expect(fork.options.env?.UV_THREADPOOL_SIZE).toBe("1");
        // The app's own process keeps its pool as it is.
        expect(fork.options.env).not.toBe(process.env);
        const received: unknown[] = [];
        const exits: unknown[] = [];
        channel.onMessage((m) => received.push(m));
        channel.onExit((e) => exits.push(e));
        channel.send({ type: "abort", id: 3 });
        expect(fork.child.posted).toEqual([{ type: "abort", id: 3 }]);
        fork.child.emit("message", { type: "ready", pid: 42 });
        expect(received).toEqual([{ type: "ready", pid: 42 }]);
        // No pid yet: kill falls back to Electron's own.
        channel.kill();
        expect(fork.child.killed).toBe(1);
        fork.child.emit("exit", 139);
        fork.child.emit("exit", 139);
        expect(exits).toEqual([{ code: 139, signal: null }]);
        // Nothing is sent to a process that has ended.
        channel.send({ type: "exit" });
        expect(fork.child.posted).toHaveLength(1);
    });
});
