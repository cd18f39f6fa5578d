import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it, vi } from "vitest";
import { Datastore } from "../datastore/datastore.ts";
import { builtinModelPath } from "../native-models/models-dir.ts";
import { describeWithStories } from "../native-models/testing/stories.ts";
import { createAppServices } from "./app-services.ts";
import { modelsDirKey } from "./model-service.ts";
import { missingBackend } from "./testing/missing-backend.ts";

/**
 * A stored setting that no longer works must not leave the app without a model at start (issue 23):
 * a backend that is gone, the model used last deleted, the models folder removed. Real SQLite, the
 * real llama.cpp and the built-in model.
 */
describeWithStories("settings at start", () => {
    let dir: string;
    afterEach(() => {
        vi.restoreAllMocks();
        rmSync(dir, { recursive: true, force: true });
    });

    it("falls back to what works, says so once, and the built-in model loads", async (ctx) => {
        dir = mkdtempSync(join(tmpdir(), "presage-fallback-"));
        const missing = await missingBackend();
        if (missing == null) ctx.skip("every GPU backend starts on this machine");
        const dbPath = join(dir, "p.db");
        const store = Datastore.open(dbPath);
        store.settings.setJson("app.settings", { backend: missing, targetModel: join(dir, "gone.gguf"), draftModel: null });
        store.settings.setJson(modelsDirKey, join(dir, "removed-models"));
        store.close();

        const logged: string[] = [];
        vi.spyOn(console, "error").mockImplementation((...args: unknown[]) => void logged.push(args.map(String).join(" ")));
        const start = async () => {
            const services = createAppServices({ dbPath, threads: 1, calibrate: false, ingestWorkers: 1 });
            try {
                await services.restoreModels();
                return { engine: services.models.info(), settings: services.settings.get(), dir: services.models.modelsDir };
            } finally {
                await services.close();
            }
        };

        const first = await start();
        expect(first.engine?.modelPath).toBe(builtinModelPath);
        expect(first.engine?.builtin).toBe(true);
        expect(first.settings.backend).toBe("auto");
        expect(first.dir).toBe(join(dir, "removed-models"));
        expect(logged).toHaveLength(2);
        expect(logged[0]).toMatch(new RegExp(`^presage: the ${missing} backend chosen in Settings is not available here \\(.*\\); using "auto" instead\\.$`));
        expect(logged[1]).toBe(`presage: the model used last, ${join(dir, "gone.gguf")}, is not there any more; loading the built-in model instead.`);

        // Said once: the next start finds settings that work.
        logged.length = 0;
        const second = await start();
        expect(second.engine?.modelPath).toBe(builtinModelPath);
        expect(logged).toEqual([]);
    });
});
