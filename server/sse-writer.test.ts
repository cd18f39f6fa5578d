import { createServer, get, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, expect, it } from "vitest";
import { SseWriter } from "./sse-writer.ts";

let server: Server | null = null;
afterEach(() => new Promise<void>((resolve) => (server == null ? resolve() : server.close(() => resolve()))));

/** Serves one stream written by `write`, and reads it on 127.0.0.1: each chunk as it arrived, with when. */
async function stream(write: (sse: SseWriter, mark: (name: string) => void) => Promise<void>, coalesceMs: number) {
    const marks = new Map<string, number>();
    server = createServer((_req, res) => {
        const sse = new SseWriter(res, { coalesceMs });
        void write(sse, (name) => marks.set(name, performance.now())).then(() => sse.end());
    });
    await new Promise<void>((resolve) => server!.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    const chunks: { text: string; at: number }[] = [];
    await new Promise<void>((resolve, reject) => {
        get({ host: "127.0.0.1", port, path: "/" }, (res) => {
            res.setEncoding("utf8");
            res.on("data", (text: string) => chunks.push({ text, at: performance.now() }));
            res.on("end", resolve);
        }).on("error", reject);
    });
    return { chunks, marks };
}

const events = (text: string) => [...text.matchAll(/data: (\d+)/g)].map((m) => Number(m[1]));

it("sends the first event at once and events written step by step in one write, in order, all flushed at the end", async () => {
    const { chunks, marks } = await stream(async (sse, mark) => {
        sse.data(0, { hold: true });
        await new Promise((r) => setTimeout(r, 150));
        mark("burst");
        // One event per turn of the event loop, as a decoder yields between steps.
        for (let i = 1; i <= 200; i++) {
            sse.data(i, { hold: true });
            await new Promise((r) => setImmediate(r));
        }
    }, 5_000);
    // The first event is not held for the interval: it arrived before the burst was even written.
    const first = chunks.find((c) => events(c.text).includes(0))!;
    expect(first.at).toBeLessThan(marks.get("burst")!);
    // The 200 events of the burst came as one write (the end flushes them; the interval never passed).
    const burst = chunks.filter((c) => events(c.text).some((n) => n > 0));
    expect(burst.length).toBe(1);
    expect(events(chunks.map((c) => c.text).join(""))).toEqual(Array.from({ length: 201 }, (_, i) => i));
});

it("writes what is held back once its interval has passed, without waiting for the end", async () => {
    const { chunks, marks } = await stream(async (sse, mark) => {
        sse.data(0, { hold: true });
        sse.data(1, { hold: true });
        await new Promise((r) => setTimeout(r, 200));
        mark("end");
    }, 20);
    const second = chunks.find((c) => events(c.text).includes(1))!;
    expect(second.at).toBeLessThan(marks.get("end")!);
    expect(events(chunks.map((c) => c.text).join(""))).toEqual([0, 1]);
});

it("writes an event that is not held at once, and it holds back no held event after it", async () => {
    const { chunks, marks } = await stream(async (sse, mark) => {
        // As an answer stream: "start" at once, then the first step a few milliseconds later.
        sse.event("start", {});
        await new Promise((r) => setTimeout(r, 30));
        sse.event("step", { n: 1 }, { hold: true });
        await new Promise((r) => setTimeout(r, 300));
        mark("end");
    }, 5_000);
    const step = chunks.find((c) => c.text.includes("event: step"))!;
    expect(step.at).toBeLessThan(marks.get("end")!);
    expect(chunks.map((c) => c.text).join("")).toMatch(/event: start[\s\S]*event: step/);
});

it("joins text pieces held together into one event, in order with the events around them", async () => {
    const frame = (text: string) => ({ text });
    const { chunks } = await stream(async (sse) => {
        sse.data("first");
        for (let i = 0; i < 100; i++) {
            sse.text(`p${i} `, frame);
            await new Promise((r) => setImmediate(r));
        }
        sse.data("last");
    }, 5_000);
    const all = chunks.map((c) => c.text).join("");
    const events = [...all.matchAll(/data: (.*)\n\n/g)].map((m) => m[1]!);
    // The first piece went out at once; the 99 after it within the interval, as one event.
    expect(events).toEqual(["first", JSON.stringify({ text: "p0 " }), JSON.stringify({ text: Array.from({ length: 99 }, (_, i) => `p${i + 1} `).join("") }), "last"]);
});
