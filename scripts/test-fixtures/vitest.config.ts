import { defineConfig } from "vitest/config";

// Only for scripts/test.test.ts: files that pass, fail, fail to load, fail in setup, and throw late.
export default defineConfig({ test: { include: ["*.fixture.ts"], fileParallelism: false } });
