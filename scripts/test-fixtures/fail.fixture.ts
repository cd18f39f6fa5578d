import { expect, it } from "vitest";
it("passes too", () => expect(1).toBe(1));
it("fails", () => expect(1).toBe(2));
