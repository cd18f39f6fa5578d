// Entry of Presage's Electron main process (bundled to electron/dist/main.js).
//
// The engine (llama.cpp, the drafters, the decoding loop) runs in a utility process of its own
// (electron/engine-launcher.ts), which is started with one libuv pool thread: so this process needs
// no UV_THREADPOOL_SIZE of its own, and a packaged app launched by the OS no longer relaunches itself
// to get it. A native crash there ends that process, not the window.
await import("./app.ts");
