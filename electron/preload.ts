// The preload of Presage's window: runs sandboxed with context isolation and exposes exactly the
// typed bridge as `window.presage`. Bundled to CommonJS by scripts/build-electron.js (sandboxed
// preloads can only require "electron").
import { contextBridge, ipcRenderer, webUtils } from "electron";
import { createBridge } from "./bridge.ts";
import { watchFileDrops } from "./drop-listener.ts";
import { preloadChannels } from "./ipc-channels.ts";

contextBridge.exposeInMainWorld("presage", createBridge(ipcRenderer as unknown as Parameters<typeof createBridge>[0]));
// Files dropped on the window: the page's File objects have no path, and the page never needs one.
watchFileDrops(window, (file) => webUtils.getPathForFile(file), (paths) => ipcRenderer.invoke(preloadChannels.dropPaths, paths));
