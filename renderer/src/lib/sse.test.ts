import { describe, expect, it } from "vitest";
import { SseParser, type SseMessage } from "./sse.ts";

describe("SseParser", () => {
    it("parses events split anywhere across chunks, skipping comments", () => {
        const got: SseMessage[] = [];
        const p = new SseParser((m) => got.push(m));
        const text = ': presage\n\nevent: start\ndata: {"generationId":"g1"}\n\nevent: step\r\ndata: {"a":1}\r\n\r\ndata: x\ndata: y\n\n';
        for (const ch of text) p.push(ch);
        p.end();
        expect(got).toEqual([
            { event: "start", data: '{"generationId":"g1"}' },
            { event: "step", data: '{"a":1}' },
            { event: "message", data: "x\ny" }
        ]);
    });

    it("delivers a last event without its blank line at the end", () => {
        const got: SseMessage[] = [];
        const p = new SseParser((m) => got.push(m));
        p.push("event: done\ndata: {}");
        p.end();
        expect(got).toEqual([{ event: "done", data: "{}" }]);
    });
});
