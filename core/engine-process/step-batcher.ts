import type { StepEvent } from "../../native-models/engine/presage-engine.ts";
import { stepFrameMs } from "./protocol.ts";

/**
 * Carries a streamed answer's steps out of the engine process without costing the decode loop a
 * message per token: the first step (the first token, which the user waits for) goes at once, later
 * ones are gathered and sent together at most once every `frameMs`, and `flush` sends what is left
 * before the answer's reply. The app writes them out once per 16 ms frame anyway.
 */
export class StepBatcher {
    private pending: StepEvent[] = [];
    private timer: NodeJS.Timeout | null = null;
    private sentAt = -Infinity;

    constructor(private readonly send: (steps: StepEvent[]) => void, private readonly frameMs = stepFrameMs) {}

    push(step: StepEvent): void {
        this.pending.push(step);
        if (this.timer != null) return;
        const wait = this.sentAt + this.frameMs - performance.now();
        if (wait <= 0) this.flush();
        else this.timer = setTimeout(() => this.flush(), wait);
    }

    /** Sends what is gathered now. */
    flush(): void {
        if (this.timer != null) clearTimeout(this.timer);
        this.timer = null;
        if (this.pending.length === 0) return;
        const steps = this.pending;
        this.pending = [];
        this.sentAt = performance.now();
        this.send(steps);
    }
}
