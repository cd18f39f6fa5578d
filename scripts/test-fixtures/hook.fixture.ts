import { beforeAll, describe, it } from "vitest";
describe("a suite whose setup fails", () => {
    beforeAll(() => { throw new Error("setup failed"); });
    it("one", () => {});
    it("two", () => {});
});
