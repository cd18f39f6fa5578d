import { Menu, type MenuItemConstructorOptions } from "electron";
import type { ShellCommand } from "../core/api-contract.ts";

export interface MenuOptions {
    /** macOS gets the app menu and its conventions (Settings… there, Close instead of Quit in File). */
    isMac: boolean;
    /** Reload and the developer tools are for development only. */
    isPackaged: boolean;
    appName: string;
    /** Asks the focused window to show something. */
    command(command: ShellCommand): void;
}

/**
 * The application menu: the standard roles (so the OS's editing shortcuts, zoom and window
 * management work as everywhere), plus New Chat (Cmd/Ctrl+N) and Settings (Cmd/Ctrl+,). Menu
 * accelerators work while the message box has focus, which page-level key handlers cannot promise.
 */
export function menuTemplate(options: MenuOptions): MenuItemConstructorOptions[] {
    const { isMac } = options;
    const settings: MenuItemConstructorOptions = { label: isMac ? "Settings…" : "Settings", accelerator: "CmdOrCtrl+,", click: () => options.command("settings") };
    const separator: MenuItemConstructorOptions = { type: "separator" };
    const template: MenuItemConstructorOptions[] = [];
    if (isMac)
        template.push({
            label: options.appName,
            submenu: [
                { role: "about" }, separator, settings, separator, { role: "services" }, separator,
                { role: "hide" }, { role: "hideOthers" }, { role: "unhide" }, separator, { role: "quit" }
            ]
        });
    template.push(
        {
            label: "File",
            submenu: [
                { label: "New Chat", accelerator: "CmdOrCtrl+N", click: () => options.command("new-chat") },
                separator,
                { label: "Documents", click: () => options.command("documents") },
                { label: "Models", click: () => options.command("models") },
                ...(isMac ? [] : [separator, settings]),
                separator,
                isMac ? { role: "close" as const } : { role: "quit" as const }
            ]
        },
        {
            label: "Edit",
            submenu: [
                { role: "undo" }, { role: "redo" }, separator,
                { role: "cut" }, { role: "copy" }, { role: "paste" },
                ...(isMac ? [{ role: "pasteAndMatchStyle" as const }, { role: "delete" as const }] : []),
                { role: "selectAll" }
            ]
        },
        {
            label: "View",
            submenu: [
                { role: "resetZoom" }, { role: "zoomIn" }, { role: "zoomOut" }, separator, { role: "togglefullscreen" },
                ...(options.isPackaged ? [] : [separator, { role: "reload" as const }, { role: "forceReload" as const }, { role: "toggleDevTools" as const }])
            ]
        },
        {
            label: "Window",
            role: "window",
            submenu: isMac
                ? [{ role: "minimize" }, { role: "zoom" }, separator, { role: "front" }]
                : [{ role: "minimize" }, { role: "close" }]
        }
    );
    return template;
}

/** Installs the menu for this platform. */
export function installMenu(options: MenuOptions): void {
    Menu.setApplicationMenu(Menu.buildFromTemplate(menuTemplate(options)));
}
