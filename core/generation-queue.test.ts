import { describe, expect, it } from "vitest";
import { GenerationQueue } from "./generation-queue.ts";
import { TrimmedText } from "./trimmed-text.ts";

describe("GenerationQueue", () => {
    it("runs one task at a time in arrival order", async () => {
        const queue = new GenerationQueue({ maxWaiting: 4 });
        const order: string[] = [];
        let running = 0;
        const task = (name: string) => queue.run(async () => {
            running++;
            expect(running).toBe(1);
            order.push(name);
            await new Promise((r) => setTimeout(r, 5));
            running--;
        });
        await Promise.all([task("a"), task("b"), task("c")]);
        expect(order).toEqual(["a", "b", "c"]);
    });

    it("refuses beyond the bound, never refuses unbounded work, and lets the aborted leave the line", async () => {
        const queue = new GenerationQueue({ maxWaiting: 1 });
        let release!: () => void;
        const first = queue.run(() => new Promise<void>((r) => (release = r)));
        const controller = new AbortController();
        const second = queue.run(async () => "second", { signal: controller.signal });
        await expect(queue.run(async () => "third")).rejects.toMatchObject({ code: "busy" });
        const load = queue.run(async () => "load", { unbounded: true });
        controller.abort();
        await expect(second).rejects.toMatchObject({ code: "cancelled" });
        expect(queue.waiting).toBe(0);
        release();
        await first;
        expect(await load).toBe("load");
        expect(queue.running).toBe(false);
    });

    it("admits exactly what run would take now, so a chat turn is refused before it stores anything", async () => {
        const idle = new GenerationQueue({ maxWaiting: 0 });
        // Idle, a request runs at once even when none may wait (the chat's own check refused it here).
        expect(() => idle.admit()).not.toThrow();
        const queue = new GenerationQueue({ maxWaiting: 1 });
        let release!: () => void;
        const first = queue.run(() => new Promise<void>((r) => (release = r)));
        expect(() => queue.admit()).not.toThrow();
        const second = queue.run(async () => "second");
        expect(() => queue.admit()).toThrow(expect.objectContaining({ code: "busy" }));
        expect(() => queue.admit({ unbounded: true })).not.toThrow();
        expect(queue.waiting).toBe(1);
        release();
        await first;
        expect(await second).toBe("second");
    });

    it("hands the queue over without letting a newcomer jump in", async () => {
        const queue = new GenerationQueue();
        const order: number[] = [];
        const a = queue.run(async () => void order.push(1));
        const b = queue.run(async () => void order.push(2));
        await a;
        const c = queue.run(async () => void order.push(3));
        await Promise.all([b, c]);
        expect(order).toEqual([1, 2, 3]);
    });
});

describe("TrimmedText", () => {
    it("streams pieces that join to the trimmed text", () => {
        for (const pieces of [["  ", "\nHello", " ", "world", "  \n"], ["Hi"], [" ", " "], ["a ", " b", "\n\n", "c\n"]]) {
            let out = "";
            const t = new TrimmedText((p) => (out += p));
            for (const p of pieces) t.push(p);
            expect(out).toBe(pieces.join("").trim());
        }
    });
});
