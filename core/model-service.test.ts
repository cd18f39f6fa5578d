import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, expect, it } from "vitest";
import { synthesizeModel } from "../native-models/gguf/synth.ts";
import { builtinModelPath } from "../native-models/models-dir.ts";
import { describeWithStories } from "../native-models/testing/stories.ts";
import type { EngineInfo, ModelsResponse } from "./app-api.ts";
import { startTestServer, type TestServer } from "../server/testing/test-server.ts";
import { createAppServices } from "./app-services.ts";
import { ensureFolder } from "./model-service.ts";
import { callAppApi } from "../server/testing/app-api-client.ts";

const dirs: string[] = [];
function tempDir(): string {
    const dir = mkdtempSync(join(tmpdir(), "presage-models-"));
    dirs.push(dir);
    return dir;
}
afterAll(() => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

it("creates the models folder on first use and lists the built-in model after its files", async () => {
    const dir = tempDir();
    const services = createAppServices({ modelsDir: join(dir, "a", "b", "models"), dbPath: join(dir, "p.db"), threads: 1, calibrate: false });
    try {
        expect(existsSync(join(dir, "a"))).toBe(false);
        const models = await services.api.listModels();
        expect(statSync(join(dir, "a", "b", "models")).isDirectory()).toBe(true);
        expect(models.dirError).toBeNull();
        expect(models.files).toEqual([{ name: "stories260K.gguf", path: builtinModelPath, size: statSync(builtinModelPath).size, builtin: true }]);
        expect(models.recommended.length).toBeGreaterThanOrEqual(2);
        for (const pair of models.recommended) {
            expect(pair.target.uri).toBe(`hf:${pair.target.repo}/${pair.target.fileName}`);
            expect(pair.memoryBytes).toBeGreaterThan(pair.target.sizeBytes + pair.draft.sizeBytes);
        }
    } finally {
        await services.close();
    }
});

it("says plainly when the models folder cannot be used", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "a-file"), "x");
    expect(await ensureFolder(join(dir, "a-file"))).toMatch(/is a file, not a folder/);
    expect(await ensureFolder(join(dir, "a-file", "below"))).toMatch(/cannot be used \(ENOTDIR\)/);
    const services = createAppServices({ modelsDir: join(dir, "a-file"), dbPath: join(dir, "p.db"), threads: 1, calibrate: false });
    try {
        const models = await services.api.listModels();
        expect(models.dirError).toMatch(/is a file, not a folder/);
        expect(models.files.every((f) => f.builtin)).toBe(true);
    } finally {
        await services.close();
    }
});

it("changes the models folder, refuses bad ones in one line, and remembers the choice", async () => {
    const dir = tempDir();
    const dbPath = join(dir, "p.db");
    writeFileSync(join(dir, "a-file"), "x");
    const first = createAppServices({ dbPath, defaultModelsDir: join(dir, "default"), threads: 1, calibrate: false });
    try {
        expect(first.models.modelsDir).toBe(join(dir, "default"));
        for (const [bad, why] of [["relative/dir", /not an absolute path/], [join(dir, "a-file"), /not a folder/], ["", /models folder/]] as const)
            await expect(first.api.setModelsFolder({ dir: bad })).rejects.toMatchObject({ code: "invalid-request", message: expect.stringMatching(why) });
        expect(first.models.modelsDir).toBe(join(dir, "default"));
        const chosen = join(dir, "chosen", "models");
        const listed = await first.api.setModelsFolder({ dir: chosen });
        expect(listed.dir).toBe(chosen);
        expect(statSync(chosen).isDirectory()).toBe(true);
    } finally {
        await first.close();
    }
    const again = createAppServices({ dbPath, defaultModelsDir: join(dir, "default"), threads: 1, calibrate: false });
    try {
        expect(again.models.modelsDir).toBe(join(dir, "chosen", "models"));
    } finally {
        await again.close();
    }
    // A folder given for the run (--models-dir, PRESAGE_MODELS_DIR) wins over the remembered one.
    const fixed = createAppServices({ dbPath, modelsDir: join(dir, "fixed"), threads: 1, calibrate: false });
    try {
        expect(fixed.models.modelsDir).toBe(join(dir, "fixed"));
    } finally {
        await fixed.close();
    }
});

describeWithStories("loading models", (storiesPath) => {
    let server: TestServer;
    let client: OpenAI;

    beforeAll(async () => {
        server = await startTestServer({ modelFiles: [storiesPath] });
        await synthesizeModel({ out: join(server.modelsDir, "other-vocab.gguf"), seed: 3 });
        // A GGUF header that lies: it claims tensors the file does not hold.
        writeFileSync(join(server.modelsDir, "broken.gguf"), Buffer.concat([Buffer.from("GGUF"), Buffer.from([3, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0])]));
        client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused", maxRetries: 0 });
    });
    afterAll(() => server?.dispose());

    const api = <T>(method: string, path: string, body?: unknown) => callAppApi<T>(server, method, path, body);

    it("keeps the working model when another fails to load", async () => {
        const before = (await api<{ engine: EngineInfo }>("GET", "/api/state")).body.engine;
        expect(before.modelPath).toBe(join(server.modelsDir, "stories260K.gguf"));
        const failed = await api<{ error: { code: string; message: string } }>("POST", "/api/models/load", { target: "broken.gguf" });
        expect(failed.status).toBe(400);
        expect(failed.body.error.code).toBe("invalid-model");
        expect(failed.body.error.message.split("\n")).toHaveLength(1);
        const after = (await api<{ engine: EngineInfo | null }>("GET", "/api/state")).body.engine;
        expect(after?.modelPath).toBe(before.modelPath);
        const answer = await client.completions.create({ model: "stories260K", prompt: "Once upon a time", max_tokens: 4 });
        expect(answer.usage!.completion_tokens).toBeGreaterThan(0);
        // The settings still name the working model, so the next start loads it.
        expect(server.services.settings.get().targetModel).toBe(before.modelPath);
    });

    it("lists every model of the folder and the built-in one, and loads one a request names", async () => {
        const ids = (await client.models.list()).data.map((m) => m.id);
        // The folder's stories260K and the built-in one are the same name: listed once.
        expect(ids.sort()).toEqual(["broken", "other-vocab", "stories260K"]);
        const other = await client.completions.create({ model: "other-vocab", prompt: "hello", max_tokens: 3, temperature: 0 });
        expect(other.model).toBe("other-vocab");
        expect(other.usage!.completion_tokens).toBe(3);
        expect(server.services.models.info()!.modelPath).toBe(join(server.modelsDir, "other-vocab.gguf"));
        const back = await client.completions.create({ model: "stories260K.gguf", prompt: "Once upon a time", max_tokens: 3 });
        expect(back.model).toBe("stories260K");
        expect(server.services.models.info()!.modelPath).toBe(join(server.modelsDir, "stories260K.gguf"));
        const missing = await fetch(`${server.url}/v1/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "gpt-5", prompt: "hi" }) });
        expect(missing.status).toBe(404);
        expect(((await missing.json()) as { error: { code: string } }).error.code).toBe("model_not_found");
    });

    it("answers requests for two models in arrival order, each loading its model in its turn", async () => {
        const [a, b, c] = await Promise.all([
            client.completions.create({ model: "other-vocab", prompt: "a", max_tokens: 2 }),
            client.completions.create({ model: "stories260K", prompt: "Once", max_tokens: 2 }),
            client.completions.create({ model: "other-vocab", prompt: "b", max_tokens: 2 })
        ]);
        expect([a.model, b.model, c.model]).toEqual(["other-vocab", "stories260K", "other-vocab"]);
        const models = (await api<ModelsResponse>("GET", "/api/models")).body;
        expect(models.loaded?.modelPath).toBe(join(server.modelsDir, "other-vocab.gguf"));
        expect(models.loading).toBeNull();
    });
});
