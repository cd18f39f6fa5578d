// Presage's Electron main process: one window on the built chat UI, the services of server/services
// behind IPC, and nothing else. All real work lives in the services; this file only wires them up.
import { app, BrowserWindow, dialog, ipcMain, Menu, session, shell, type MenuItemConstructorOptions } from "electron";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { packageRoot } from "../native-models/models-dir.ts";
import { contentSecurityPolicy } from "../server/http/security-headers.ts";
import { createAppServices, type AppServices } from "../server/services/app-services.ts";
import { forwardAppEvents, registerIpcHandlers, type IpcMainLike } from "./ipc.ts";
import { isTrustedSender, type TrustedPage } from "./sender-check.ts";

const indexHtml = join(packageRoot, "renderer", "dist", "index.html");
const preload = join(packageRoot, "electron", "dist", "preload.cjs");
/** During development the window can load the Vite dev server instead of the build. */
const devUrl = process.env.PRESAGE_DEV_URL ?? null;
const trusted: TrustedPage = devUrl != null ? { origin: devUrl } : { fileUrl: pathToFileURL(indexHtml).href };

let services: AppServices | null = null;
let mainWindow: BrowserWindow | null = null;

if (!app.requestSingleInstanceLock()) app.quit();
else {
    app.on("second-instance", () => {
        if (mainWindow != null) {
            if (mainWindow.isMinimized()) mainWindow.restore();
            mainWindow.focus();
        }
    });
    app.whenReady().then(start).catch((err) => {
        dialog.showErrorBox("Presage could not start", (err as Error).message.split("\n")[0]!);
        app.quit();
    });
}

async function start(): Promise<void> {
    lockDownSessions();
    const userData = app.getPath("userData");
    services = createAppServices({
        // PRESAGE_MODELS_DIR fixes the folder; otherwise the one chosen in the window, else userData/models.
        modelsDir: process.env.PRESAGE_MODELS_DIR,
        defaultModelsDir: join(userData, "models"),
        dbPath: process.env.PRESAGE_DB ?? join(userData, "presage.db"),
        cacheDir: join(userData, "cache")
    });
    registerIpcHandlers({
        ipcMain: ipcMain as unknown as IpcMainLike,
        api: services.api,
        isTrusted: (url) => isTrustedSender(url, trusted),
        choosePaths: async (event, options) => {
            const win = BrowserWindow.getAllWindows().find((w) => w.webContents === (event.sender as unknown));
            const properties: ("openDirectory" | "openFile" | "multiSelections")[] = [options.kind === "folder" ? "openDirectory" : "openFile", "multiSelections"];
            const result = win != null
                ? await dialog.showOpenDialog(win, { title: options.title, properties, filters: options.filters })
                : await dialog.showOpenDialog({ title: options.title, properties, filters: options.filters });
            return result.canceled ? [] : result.filePaths;
        },
        openFolder: async (path) => {
            const failure = await shell.openPath(path);
            if (failure !== "") throw new Error(`The folder ${path} could not be opened: ${failure}`);
        }
    });
    forwardAppEvents(services.api, () => BrowserWindow.getAllWindows().map((w) => w.webContents));
    Menu.setApplicationMenu(buildMenu());
    createWindow();
    void services.restoreModels();

    app.on("activate", () => {
        if (BrowserWindow.getAllWindows().length === 0) createWindow();
    });
}

function createWindow(): void {
    const win = new BrowserWindow({
        width: 1200,
        height: 800,
        minWidth: 640,
        minHeight: 480,
        show: false,
        title: "Presage",
        webPreferences: {
            preload,
            contextIsolation: true,
            sandbox: true,
            nodeIntegration: false,
            nodeIntegrationInWorker: false,
            webviewTag: false,
            webSecurity: true,
            allowRunningInsecureContent: false,
            spellcheck: true
        }
    });
    win.once("ready-to-show", () => win.show());
    win.on("closed", () => {
        if (mainWindow === win) mainWindow = null;
    });
    if (devUrl != null) void win.loadURL(devUrl);
    else void win.loadFile(indexHtml);
    mainWindow = win;
}

/** No navigation away from our page, no new windows (links open in the browser), no permissions, a CSP on every response. */
function lockDownSessions(): void {
    session.defaultSession.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
    session.defaultSession.webRequest.onHeadersReceived((details, callback) => {
        callback({ responseHeaders: { ...details.responseHeaders, "Content-Security-Policy": [contentSecurityPolicy] } });
    });
    app.on("web-contents-created", (_event, contents) => {
        contents.setWindowOpenHandler(({ url }) => {
            if (/^https?:\/\//.test(url)) void shell.openExternal(url);
            return { action: "deny" };
        });
        contents.on("will-navigate", (event, url) => {
            if (!isTrustedSender(url, trusted)) event.preventDefault();
        });
        contents.on("will-attach-webview", (event) => event.preventDefault());
    });
}

function buildMenu(): Menu {
    const isMac = process.platform === "darwin";
    const template: MenuItemConstructorOptions[] = [
        ...(isMac ? [{ role: "appMenu" as const }] : []),
        { label: "File", submenu: [isMac ? { role: "close" } : { role: "quit" }] },
        { role: "editMenu" },
        {
            label: "View",
            submenu: [
                { role: "resetZoom" }, { role: "zoomIn" }, { role: "zoomOut" }, { type: "separator" }, { role: "togglefullscreen" },
                ...(app.isPackaged ? [] : [{ type: "separator" as const }, { role: "reload" as const }, { role: "toggleDevTools" as const }])
            ]
        },
        { role: "windowMenu" }
    ];
    return Menu.buildFromTemplate(template);
}

let quitting = false;
app.on("before-quit", (event) => {
    if (quitting || services == null) return;
    // Let answers stop and the datastore checkpoint before the process goes.
    event.preventDefault();
    quitting = true;
    void services.close().finally(() => app.quit());
});

app.on("window-all-closed", () => {
    if (process.platform !== "darwin") app.quit();
});
