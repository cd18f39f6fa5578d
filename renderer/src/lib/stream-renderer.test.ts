import { describe, expect, it } from "vitest";
import { StreamRenderer } from "./stream-renderer.ts";
import type { StepEvent } from "./types.ts";

function step(i: number, text: string, accepted = 0): StepEvent {
    return { step: i, drafted: accepted, accepted, source: accepted > 0 ? "retrieval" : null, tokens: Array(accepted + 1).fill(1), text, ms: 1 };
}

describe("StreamRenderer", () => {
    it("appends text without rebuilding, in blocks cut at newlines", () => {
        const el = document.createElement("div");
        const r = new StreamRenderer(el, false, 10);
        r.appendSteps([step(1, "hello "), step(2, "world")]);
        const first = el.firstChild;
        r.appendSteps([step(3, " again\nnext line")]);
        expect(el.firstChild).toBe(first);
        expect(el.children).toHaveLength(2);
        expect(el.children[0]!.textContent).toBe("hello world again");
        expect(el.children[1]!.textContent).toBe("next line");
    });

    it("colours accepted steps by source with a tooltip, and re-renders on toggle", () => {
        const el = document.createElement("div");
        const steps = [step(1, "A"), step(2, "BC", 1)];
        const r = new StreamRenderer(el, true);
        r.appendSteps(steps);
        const span = el.querySelector(".src-retrieval")!;
        expect(span.textContent).toBe("BC");
        expect(span.getAttribute("title")).toContain("Documents");
        expect(el.textContent).toBe("ABC");
        r.reset(steps, false);
        expect(el.querySelector(".tok")).toBeNull();
        expect(el.textContent).toBe("ABC");
    });
});
