import { it } from "vitest";
throw new Error("this file cannot load");
it("never runs", () => {});
