/**
 * Stream-rendering benchmark: feeds the built chat window 1000 tokens/s for 20 s in headless Chromium
 * and reports the longest main-thread task. Not a test: it prints numbers.
 *
 *   npx tsx renderer/e2e/stream-bench.ts [--seconds 20] [--rate 1000] [--colour] [--why] [--profile] [--screenshot file.png]
 *
 * The window runs as in Electron: a `window.presage` bridge (injected before the page loads) answers
 * with synthetic steps (~2 tokens a step, n-gram/draft/retrieval guesses with per-token text, a
 * newline every few dozen tokens, a code block now and then), so the whole path from an AnswerEvent
 * to pixels is measured: the api module, the chat store's per-frame batching, the stream renderer,
 * the live stats and chart, and the Markdown render of the finished answer.
 * The longest task comes from a Chrome trace (every RunTask on the page's main thread), so tasks
 * under 50 ms are measured too; `longtask` entries (over 50 ms) are counted as well.
 */
import { readFileSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { extname, join } from "node:path";
import { tmpdir } from "node:os";
import { chromium } from "playwright-core";
import { buildRenderer, chromiumArgs, chromiumPath } from "./harness.ts";

const args = process.argv.slice(2);
const arg = (name: string, fallback: number) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : fallback;
};
const seconds = arg("seconds", 20);
const rate = arg("rate", 1000);
const colour = args.includes("--colour");

const dist = await buildRenderer();
const types: Record<string, string> = { ".html": "text/html", ".js": "text/javascript", ".css": "text/css" };
const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0]!;
    const file = join(dist, path === "/" ? "index.html" : path);
    try {
        const body = readFileSync(file);
        res.writeHead(200, { "content-type": types[extname(file)] ?? "application/octet-stream" });
        res.end(body);
    } catch {
        res.writeHead(404).end();
    }
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

const browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });
const context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
const page = await context.newPage();
page.on("pageerror", (e) => console.error("page error:", e.message));

// tsx (esbuild) wraps named functions in __name(): give the page one, since the script below is sent as source.
await page.addInitScript({ content: "window.__name = (f) => f;" });
await page.addInitScript(({ seconds, rate }) => {
    const w = window as unknown as Record<string, unknown>;
    const long: { start: number; duration: number }[] = [];
    w.__longTasks = long;
    new PerformanceObserver((list) => {
        for (const e of list.getEntries()) long.push({ start: e.startTime, duration: e.duration });
    }).observe({ type: "longtask" });

    const words = ["the", "little", "cat", "ran", "to", "a", "big", "tree", "and", "said", "hello", "once", "upon", "time", "there", "was", "girl", "who", "loved", "play"];
    const sources = ["ngram", "draft", "retrieval", "history"];
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    let tokenCount = 0;
    const piece = (): string => {
        tokenCount++;
        if (tokenCount % 2500 === 0) return "\n\n```ts\nconst answer = await model.generate({ prompt, maxTokens: 512 });\nconsole.log(answer.text);\n```\n\n";
        if (tokenCount % 47 === 0) return ".\n\n";
        if (tokenCount % 13 === 0) return ", ";
        return " " + words[Math.floor(rand() * words.length)];
    };
    const engine = {
        modelPath: "/models/bench.gguf", draftModelPath: null,
        backend: { backend: "cpu", devices: [], cpuMathCores: 2, buildType: "prebuilt" },
        threads: 2, contextSize: 32768, vocabulary: "bench", calibration: { stepMs: [2, 2, 2], plainTokenMs: 2, baselineTokensPerSecond: 500 }, available: ["ngram", "draft", "retrieval", "history"]
    };
    const settings = {
        strategies: { auto: true, draft: true, ngram: true, retrieval: true, history: true, "early-exit": false }, exact: false, maxDraft: "auto",
        sampling: { temperature: 0, topK: 40, topP: 0.95, minP: 0.05, repeatPenalty: 1, maxTokens: 100000, seed: null },
        backend: "auto", gpuLayers: "auto", contextSize: 32768, threads: 0, targetModel: null, draftModel: null, theme: "light", historyEnabled: true
    };
    const conversation = { id: "c1", title: "Bench", systemPrompt: "", sampling: {}, createdAt: Date.now(), updatedAt: Date.now() };
    let stopped = false;
    const done = { value: false, tokens: 0, steps: 0, startedAt: 0, endedAt: 0 };
    w.__bench = done;
    w.presage = {
        getState: async () => ({ settings, engine, version: "bench" }),
        updateSettings: async (patch: object) => Object.assign(settings, patch),
        listModels: async () => ({ dir: "/models", files: [], loaded: engine, recommended: [] }),
        loadModel: async () => engine,
        checkDraft: async () => ({ compatible: true, reason: null }),
        downloadModel: async () => ({ id: "d" }),
        cancelDownload: async () => {},
        listConversations: async () => [conversation],
        createConversation: async () => conversation,
        getConversation: async () => ({ conversation, messages: [] }),
        updateConversation: async () => conversation,
        deleteConversation: async () => {},
        stopGeneration: async () => { stopped = true; },
        race: async () => { throw new Error("not in the bench"); },
        listDocuments: async () => ({ sources: [], storeBytes: 0, tokens: 0 }),
        addDocuments: async () => { throw new Error("not in the bench"); },
        removeDocuments: async () => {},
        rescanDocuments: async () => {},
        setDocumentsWatch: async () => {},
        clearHistory: async () => {},
        onAppEvent: () => () => {},
        choosePaths: async () => [],
        sendMessage: (_id: string, req: { content?: string }, onEvent: (e: unknown) => void) => new Promise<void>((resolve) => {
            const userMessage = { id: "u1", conversationId: "c1", role: "user", content: req.content ?? "", createdAt: Date.now(), stats: null, steps: null, strategies: null };
            onEvent({ type: "start", generationId: "g1", userMessage });
            const started = performance.now();
            done.startedAt = started;
            console.timeStamp("bench-start");
            const steps: unknown[] = [];
            let text = "";
            let sent = 0;
            let step = 0;
            const timer = setInterval(() => {
                const elapsed = (performance.now() - started) / 1000;
                const due = Math.min(seconds, elapsed) * rate;
                // IPC delivers messages as separate tasks; each tick here sends what is due, one event a step.
                while (sent < due) {
                    const accepted = Math.floor(rand() * 4);
                    const pieces: string[] = [];
                    for (let i = 0; i <= accepted; i++) pieces.push(piece());
                    const s = {
                        step: step++, drafted: accepted + (rand() < 0.5 ? 1 : 0), accepted, source: accepted > 0 ? sources[step % sources.length] : null,
                        tokens: pieces.map((_, i) => 100 + i), text: pieces.join(""), ms: 1, pieces
                    };
                    sent += pieces.length;
                    text += s.text;
                    steps.push(s);
                    onEvent({ type: "step", step: s });
                }
                if (elapsed >= seconds || stopped) {
                    clearInterval(timer);
                    const stats = {
                        tokens: sent, seconds: elapsed, tokensPerSecond: sent / elapsed, steps: step, drafted: 0, accepted: 0, meanAcceptedLength: sent / step,
                        acceptanceRate: 0, bySource: {}, baselineTokensPerSecond: 500, speedupEstimate: sent / elapsed / 500, estimate: true
                    };
                    onEvent({ type: "done", message: { id: "a1", conversationId: "c1", role: "assistant", content: text, createdAt: Date.now(), stats, steps, strategies: ["ngram"] }, stopReason: "max-tokens" });
                    done.value = true;
                    done.tokens = sent;
                    done.steps = step;
                    done.endedAt = performance.now();
                    console.timeStamp("bench-done");
                    resolve();
                }
            }, 4);
        })
    };
}, { seconds, rate });

await page.goto(url);
await page.getByTestId("composer").waitFor();
if (colour) await page.getByTestId("colour-tokens").check();
// Let start-up work settle, then trace only the answer.
await page.waitForTimeout(500);
const tracePath = join(tmpdir(), `presage-stream-bench-${process.pid}.json`);
const profiling = args.includes("--profile");
const cdp = profiling ? await context.newCDPSession(page) : null;
if (cdp != null) {
    await cdp.send("Profiler.enable");
    await cdp.send("Profiler.setSamplingInterval", { interval: 200 });
    await cdp.send("Profiler.start");
}
await browser.startTracing(page, { path: tracePath, categories: ["devtools.timeline", "disabled-by-default-devtools.timeline"] });
await page.getByTestId("composer").fill("Tell me a very long story");
await page.getByTestId("composer").press("Enter");
const shotAt = args.indexOf("--screenshot");
if (shotAt >= 0) {
    // A look at the window mid-answer (live stats, chart, stop button).
    await page.waitForTimeout(Math.min(3000, seconds * 500));
    await page.screenshot({ path: args[shotAt + 1]! });
}
await page.waitForFunction(() => (window as unknown as { __bench: { value: boolean } }).__bench.value, undefined, { timeout: (seconds + 30) * 1000, polling: 250 });
// The finished answer becomes Markdown over the next frames: measure those too.
await page.waitForTimeout(2000);
await browser.stopTracing();
if (cdp != null) {
    const { profile } = await cdp.send("Profiler.stop");
    // Self time by function, from the sampled profile.
    const self = new Map<string, number>();
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    const dt = profile.timeDeltas ?? [];
    (profile.samples ?? []).forEach((id, i) => {
        const n = byId.get(id)!;
        const key = `${n.callFrame.functionName || "(anonymous)"} ${n.callFrame.url.split("/").at(-1)}:${n.callFrame.lineNumber}:${n.callFrame.columnNumber}`;
        self.set(key, (self.get(key) ?? 0) + (dt[i] ?? 0) / 1000);
    });
    console.log([...self].sort((a, b) => b[1] - a[1]).slice(0, 25).map(([k, ms]) => `${ms.toFixed(0).padStart(6)} ms  ${k}`).join("\n"));
}
const bench = await page.evaluate(() => (window as unknown as { __bench: { tokens: number; steps: number; startedAt: number } }).__bench);
const longTasks = (await page.evaluate(() => (window as unknown as { __longTasks: { start: number; duration: number }[] }).__longTasks))
    .filter((t) => t.start >= bench.startedAt - 100).map((t) => t.duration);
const rendered = await page.evaluate(() => document.querySelector('[data-testid="message-assistant"]')?.textContent?.length ?? 0);

// Every task the page's main thread ran while tracing.
type TraceEvent = { name: string; ph: string; pid: number; tid: number; ts: number; dur?: number; tdur?: number; args?: { name?: string; data?: { message?: string } } };
const trace = JSON.parse(readFileSync(tracePath, "utf8")) as { traceEvents: TraceEvent[] };
rmSync(tracePath, { force: true });
const mainThreads = new Set(trace.traceEvents.filter((e) => e.name === "thread_name" && e.args?.name === "CrRendererMain").map((e) => `${e.pid}:${e.tid}`));
const stamp = (message: string) => trace.traceEvents.find((e) => e.name === "TimeStamp" && e.args?.data?.message === message)?.ts ?? null;
const startTs = stamp("bench-start");
const doneTs = stamp("bench-done");
const runTasks = trace.traceEvents.filter((e) => e.name === "RunTask" && e.ph === "X" && mainThreads.has(`${e.pid}:${e.tid}`));
const phase = (e: TraceEvent) => (startTs == null || doneTs == null ? "?" : e.ts < startTs ? "before" : e.ts <= doneTs ? "streaming" : "after-done");
const longest = (list: TraceEvent[]) => list.reduce((m, e) => Math.max(m, (e.dur ?? 0) / 1000), 0);
const tasks = runTasks.map((e) => (e.dur ?? 0) / 1000).sort((a, b) => b - a);
/**
 * A task's own work: its time less the time it waited for the compositor to take the frame ("Commit").
 * On a loaded machine the compositor and raster threads wait for a core and the main thread waits with
 * them; that wait is the machine's, not the page's.
 */
const commits = trace.traceEvents.filter((e) => e.name === "Commit" && e.ph === "X");
const ownWork = (task: TraceEvent) => {
    const end = task.ts + (task.dur ?? 0);
    let wait = 0;
    for (const c of commits) if (c.pid === task.pid && c.tid === task.tid && c.ts >= task.ts && c.ts + (c.dur ?? 0) <= end) wait += c.dur ?? 0;
    return ((task.dur ?? 0) - wait) / 1000;
};
const ownLongest = runTasks.reduce((m, e) => Math.max(m, ownWork(e)), 0);
/** CPU time of the longest task (thread time): what the page cost, whatever else the machine ran. */
const cpuTimes = runTasks.map((e) => (e.tdur ?? 0) / 1000).sort((a, b) => b - a);
const over = (ms: number) => tasks.filter((t) => t > ms).length;
const top = [...runTasks].sort((a, b) => (b.dur ?? 0) - (a.dur ?? 0)).slice(0, 5).map((e) => `${((e.dur ?? 0) / 1000).toFixed(1)} ms (${phase(e)})`);

/** What the longest tasks spent their time on (events nested in them, by name; nested ones overlap). */
const breakdown = [...runTasks].sort((a, b) => (b.tdur ?? 0) - (a.tdur ?? 0)).slice(0, args.includes("--why") ? 3 : 0).map((task) => {
    const inner = trace.traceEvents.filter((e) => e.ph === "X" && e !== task && e.pid === task.pid && e.tid === task.tid && e.ts >= task.ts && e.ts + (e.dur ?? 0) <= task.ts + (task.dur ?? 0));
    const by = new Map<string, number>();
    for (const e of inner) by.set(e.name, (by.get(e.name) ?? 0) + (e.dur ?? 0) / 1000);
    const at = startTs == null ? "?" : `${((task.ts - startTs) / 1000).toFixed(0)} ms after start${doneTs != null ? `, ${((task.ts - doneTs) / 1000).toFixed(0)} ms from done` : ""}`;
    return { ms: Number(((task.dur ?? 0) / 1000).toFixed(1)), cpuMs: Number(((task.tdur ?? 0) / 1000).toFixed(1)), phase: phase(task), at, inside: [...by].sort((a, b) => b[1] - a[1]).slice(0, 8).map(([n, ms]) => `${n} ${ms.toFixed(1)}`) };
});
if (breakdown.length > 0) console.log(JSON.stringify(breakdown, null, 2));

console.log(JSON.stringify({
    chromium: browser.version(),
    colourByDrafter: colour,
    tokens: bench.tokens,
    steps: bench.steps,
    seconds,
    renderedChars: rendered,
    mainThreadTasks: tasks.length,
    longestTaskMs: Number((tasks[0] ?? 0).toFixed(1)),
    longestTaskLessCommitWaitMs: Number(ownLongest.toFixed(1)),
    longestTaskCpuMs: Number((cpuTimes[0] ?? 0).toFixed(1)),
    top5TaskCpuMs: cpuTimes.slice(0, 5).map((t) => Number(t.toFixed(1))),
    tasksOver50msCpu: cpuTimes.filter((t) => t > 50).length,
    longestWhileStreamingMs: Number(longest(runTasks.filter((e) => phase(e) === "streaming")).toFixed(1)),
    longestAfterDoneMs: Number(longest(runTasks.filter((e) => phase(e) === "after-done")).toFixed(1)),
    top5Tasks: top,
    tasksOver16ms: over(16),
    tasksOver50ms: over(50),
    longtaskEntries: longTasks.length,
    longestLongtaskEntryMs: longTasks.length > 0 ? Math.max(...longTasks) : null
}, null, 2));

await browser.close();
server.close();
