import type { Token } from "node-llama-cpp";
import { expect } from "vitest";
import { firstDivergence, nearTieBound } from "../decoding/near-ties.ts";

export { plainMargins } from "../decoding/near-ties.ts";

/** Asserts that `spec` equals `plain`, or first departs from it where plain decoding was at a near-tie. */
export function expectSameOrNearTie(spec: readonly Token[], plain: readonly Token[], margins: readonly number[], label: string): void {
    const at = firstDivergence(spec, plain);
    if (at < 0 || at >= margins.length) {
        expect(spec, label).toEqual(plain);
        return;
    }
    expect(margins[at]!, `${label}: diverged from plain at token ${at}, where plain's top-two margin was ${margins[at]}`).toBeLessThan(nearTieBound);
}
