// Entry of the engine process under Node (core/engine-process/engine-process.ts forks it; the
// desktop app starts its bundled engine-child.js as a utility process instead). CommonJS on purpose:
// it runs before libuv's thread pool starts (an ES module entry is read through that pool), so the
// pool size set here holds. One pool thread: each pool thread running llama.cpp brings its own
// OpenMP team, and idle teams spin against the working one (decoding 1.8x slower with 4).
process.env.UV_THREADPOOL_SIZE = "1";
process.title = "presage-engine";

const entry = process.argv[2];
// Loading the engine's code (and node-llama-cpp) takes a second or more: say it is alive meanwhile,
// as the engine does while it loads a model (protocol.ts, heartbeat).
const beat = setInterval(() => process.send?.({ type: "heartbeat" }), 1000);
(async () => {
    // From source (presage serve, the tests) the engine is TypeScript: tsx loads it.
    if (entry.endsWith(".ts")) (await import("tsx/esm/api")).register();
    await import(entry);
    clearInterval(beat);
})().catch((err) => {
    console.error(`presage-engine: could not start: ${String(err && err.stack || err)}`);
    process.exit(70);
});
