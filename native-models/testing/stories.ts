import { describe } from "vitest";
import { findStoriesModel, modelsDir } from "../models-dir.ts";

/**
 * `describe` for tests that need the trained stories260K model. Where it is missing they skip with a
 * visible message; in CI (`CI=true`) its absence fails the run instead of passing silently.
 */
export function describeWithStories(name: string, body: (modelPath: string) => void): void {
    const path = findStoriesModel();
    if (path != null) {
        describe(name, () => body(path));
        return;
    }
    const why = `stories260K.gguf is not in ${modelsDir()} (set PRESAGE_MODELS_DIR or run "npm run models:pull")`;
    if (process.env.CI === "true")
        describe(name, () => {
            throw new Error(`${why}: CI needs it`);
        });
    else {
        console.warn(`SKIPPED "${name}": ${why}`);
        describe.skip(name, () => body(""));
    }
}
