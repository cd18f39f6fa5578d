import { defineConfig } from "vitest/config";
import { svelte } from "@sveltejs/vite-plugin-svelte";

// llama.cpp threads spin while they wait: two model-loading test files at once on a 2-core machine
// oversubscribe the cores and run ~100x slower, so files run one after another.
export default defineConfig({
    test: {
        fileParallelism: false,
        pool: "forks",
        testTimeout: 120_000,
        hookTimeout: 120_000,
        projects: [
            {
                extends: true,
                test: {
                    name: "node",
                    environment: "node",
                    include: ["{native-models,datastore,core,server,electron,cli,bench,scripts}/**/*.test.ts"]
                }
            },
            {
                extends: true,
                plugins: [svelte()],
                resolve: { conditions: ["browser"] },
                test: {
                    name: "renderer",
                    environment: "jsdom",
                    include: ["renderer/src/**/*.test.ts"]
                }
            },
            {
                extends: true,
                test: {
                    name: "browser",
                    environment: "node",
                    include: ["renderer/e2e/**/*.test.ts"]
                }
            }
        ]
    }
});
