// The preload of Presage's window: runs sandboxed with context isolation and exposes exactly the
// typed bridge as `window.presage`. Bundled to CommonJS by scripts/build-electron.js (sandboxed
// preloads can only require "electron").
import { contextBridge, ipcRenderer } from "electron";
import { createBridge } from "./bridge.ts";

contextBridge.exposeInMainWorld("presage", createBridge(ipcRenderer as unknown as Parameters<typeof createBridge>[0]));
