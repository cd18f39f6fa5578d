// Presage's desktop app: one window on the built chat UI, the services of core/ behind IPC,
// and the desktop behaviour around them (menu, dialogs, drops, window place, single instance, quit).
// All real work lives in the services; this file only wires them to Electron.
import { app, BrowserWindow, dialog, ipcMain, screen, session, shell, type WebContents } from "electron";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { packageRoot, presageCacheDir } from "../native-models/models-dir.ts";
import { firstLine } from "../core/service-error.ts";
import { createAppServices, type AppServices } from "../core/app-services.ts";
import { addModelFile, handleDroppedPaths } from "./dropped-files.ts";
import { utilityEngineLauncher } from "./engine-launcher.ts";
import { installGracefulQuit } from "./graceful-quit.ts";
import type { ShellCommand } from "../core/api-contract.ts";
import { forwardAppEvents, registerIpcHandlers, sendShellCommand, type IpcMainLike } from "./ipc.ts";
import { installMenu } from "./menu.ts";
import { electronContentSecurityPolicy, secureSession, secureWebContents } from "./security.ts";
import { isTrustedSender, type TrustedPage } from "./sender-check.ts";
import { mainWindowOptions } from "./window-options.ts";
import { fitToDisplays, readWindowState, trackWindowState } from "./window-state.ts";

const indexHtml = join(packageRoot, "renderer", "dist", "index.html");
const preload = join(packageRoot, "electron", "dist", "preload.cjs");
/** The engine (llama.cpp and the decoding loop), bundled, run in a utility process of its own. */
const engineEntry = join(packageRoot, "electron", "dist", "engine-child.js");
/** During development the window can load the Vite dev server instead of the build. */
const devUrl = !app.isPackaged ? (process.env.PRESAGE_DEV_URL ?? null) : null;
const trusted: TrustedPage = devUrl != null ? { origin: devUrl } : { fileUrl: pathToFileURL(indexHtml).href };

// The data folder (database, models, window place): Electron's userData unless PRESAGE_DATA_DIR says
// otherwise. Set before the single-instance lock, which is per data folder.
if (process.env.PRESAGE_DATA_DIR) app.setPath("userData", resolve(process.env.PRESAGE_DATA_DIR));

let services: AppServices | null = null;
let mainWindow: BrowserWindow | null = null;

if (!app.requestSingleInstanceLock()) app.exit(0);
else {
    // A second launch (a double click, a file opened with the app) focuses this window instead.
    app.on("second-instance", () => {
        const win = mainWindow ?? createWindow();
        if (win.isMinimized()) win.restore();
        win.show();
        win.focus();
    });
    app.on("web-contents-created", (_event, contents) => secureWebContents(contents, trusted));
    app.whenReady().then(start).catch((err: unknown) => {
        dialog.showErrorBox("Presage could not start", firstLine(err));
        app.exit(1);
    });
}

async function start(): Promise<void> {
    secureSession(session.defaultSession, devUrl != null ? null : electronContentSecurityPolicy);
    const userData = app.getPath("userData");
    const open = createAppServices({
        // PRESAGE_MODELS_DIR fixes the folder; otherwise the one chosen in the window, else userData/models.
        modelsDir: process.env.PRESAGE_MODELS_DIR ? resolve(process.env.PRESAGE_MODELS_DIR) : undefined,
        defaultModelsDir: join(userData, "models"),
        dbPath: process.env.PRESAGE_DB ? resolve(process.env.PRESAGE_DB) : join(userData, "presage.db"),
        cacheDir: presageCacheDir(join(userData, "cache")),
        engineLauncher: utilityEngineLauncher(engineEntry)
    });
    services = open;
    installGracefulQuit(app, () => open.close());

    registerIpcHandlers({
        ipcMain: ipcMain as unknown as IpcMainLike,
        api: open.api,
        isTrusted: (url) => isTrustedSender(url, trusted),
        choosePaths: async (event, options) => {
            const win = windowOf(event.sender as unknown as WebContents);
            const properties: ("openDirectory" | "openFile" | "multiSelections")[] = [options.kind === "folder" ? "openDirectory" : "openFile", "multiSelections"];
            const dialogOptions = { title: options.title, properties, filters: options.filters };
            const result = win != null ? await dialog.showOpenDialog(win, dialogOptions) : await dialog.showOpenDialog(dialogOptions);
            return result.canceled ? [] : result.filePaths;
        },
        addModelFile: (path) => addModelFile(path, open.models.modelsDir),
        openFolder: async (path) => {
            const failure = await shell.openPath(path);
            if (failure !== "") throw new Error(`The folder ${path} could not be opened: ${failure}`);
        },
        dropPaths: async (event, paths) => {
            const outcome = await handleDroppedPaths(paths, { modelsDir: open.models.modelsDir, addDocuments: (path) => open.api.addDocuments({ path }) });
            const contents = event.sender as unknown as WebContents;
            if (outcome.models.length > 0) sendShellCommand(contents, "models");
            else if (outcome.documents.length > 0) sendShellCommand(contents, "documents");
            const win = windowOf(contents);
            if (outcome.errors.length > 0 && win != null)
                void dialog.showMessageBox(win, {
                    type: "warning",
                    message: outcome.errors.length === 1 ? "A dropped file was not added." : `${outcome.errors.length} dropped files were not added.`,
                    detail: outcome.errors.join("\n")
                });
            return outcome;
        }
    });
    forwardAppEvents(open.api, () => BrowserWindow.getAllWindows().map((w) => w.webContents));
    installMenu({ isMac: process.platform === "darwin", isPackaged: app.isPackaged, appName: app.name, command: showInWindow });
    createWindow();
    // The models loaded last time come back on their own; the window shows progress as "engine" events.
    void open.restoreModels();

    app.on("activate", () => {
        if (BrowserWindow.getAllWindows().length === 0) createWindow();
    });
}

function createWindow(): BrowserWindow {
    const stateFile = join(app.getPath("userData"), "window-state.json");
    const state = fitToDisplays(readWindowState(stateFile), screen.getAllDisplays().map((d) => d.workArea));
    const win = new BrowserWindow(mainWindowOptions({ preload, state }));
    if (state?.maximized) win.maximize();
    trackWindowState(win, stateFile);
    win.once("ready-to-show", () => win.show());
    win.on("closed", () => {
        if (mainWindow === win) mainWindow = null;
    });
    if (devUrl != null) void win.loadURL(devUrl);
    else void win.loadFile(indexHtml);
    mainWindow = win;
    return win;
}

/** A menu item or shortcut: to the focused window (opening one if there is none, as on macOS). */
function showInWindow(command: ShellCommand): void {
    const existing = BrowserWindow.getFocusedWindow() ?? mainWindow;
    if (existing != null) {
        existing.show();
        sendShellCommand(existing.webContents, command);
        return;
    }
    const win = createWindow();
    win.webContents.once("did-finish-load", () => sendShellCommand(win.webContents, command));
}

function windowOf(contents: WebContents): BrowserWindow | null {
    return BrowserWindow.fromWebContents(contents) ?? null;
}

app.on("window-all-closed", () => {
    // macOS apps stay in the Dock with no window; elsewhere closing the window quits (gracefully).
    if (process.platform !== "darwin" || services == null) app.quit();
});
