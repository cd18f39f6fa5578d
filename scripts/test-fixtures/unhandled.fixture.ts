import { it } from "vitest";
it("passes but leaves an error behind", () => { setTimeout(() => { throw new Error("late"); }, 1); return new Promise((r) => setTimeout(r, 50)); });
