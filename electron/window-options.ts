import type { BrowserWindowConstructorOptions } from "electron";
import type { WindowState } from "./window-state.ts";

/** Below this the chat window's layout stops working. */
export const minimumWindowSize = { width: 640, height: 480 } as const;
const defaultSize = { width: 1200, height: 800 } as const;

/**
 * The options of Presage's window. The page gets no Node and no Electron: a sandboxed renderer, its
 * own JavaScript world (contextIsolation), web security on, no <webview>, no insecure content. All it
 * can reach is `window.presage`, which the preload builds from one typed method per message.
 */
export function mainWindowOptions(options: { preload: string; state?: WindowState | null }): BrowserWindowConstructorOptions {
    const state = options.state;
    return {
        width: state?.width ?? defaultSize.width,
        height: state?.height ?? defaultSize.height,
        ...(state?.x != null && state.y != null ? { x: state.x, y: state.y } : {}),
        minWidth: minimumWindowSize.width,
        minHeight: minimumWindowSize.height,
        // Shown once the page has painted, so it never flashes white.
        show: false,
        title: "Presage",
        webPreferences: {
            preload: options.preload,
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
        }
    };
}
