import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAppServices } from "../core/app-services.ts";
import { findStoriesModel } from "../native-models/models-dir.ts";
import { spread, type Spread } from "./bench.ts";

export interface RaceBenchResult {
    model: string;
    strategies: string[];
    tokens: number;
    races: number;
    /** Speculative ÷ plain generation speed as the Race view measures it, one value per race. */
    measured: Spread;
    /** The speculative answer's own `speedupEstimate` (what its stats bar shows). */
    estimate: Spread;
    /** |estimate − measured| per race. */
    gap: Spread;
    identical: number;
}

/**
 * The Race view's own path (`AppService.race`: the app's queue, its chat session, the datastore's
 * drafters) on the built-in model, run `races` times: does Auto keep plain speed when no guess pays,
 * and does the stats' estimate say what the race measures?
 */
export async function measureRaces({ races = 10, maxTokens = 200, strategies = ["auto"] as const } = {}): Promise<RaceBenchResult> {
    const modelPath = findStoriesModel();
    if (modelPath == null) throw new Error("stories260K.gguf is missing");
    const dir = mkdtempSync(join(tmpdir(), "presage-race-"));
    const services = createAppServices({ dbPath: join(dir, "presage.db"), modelsDir: join(modelPath, "..") });
    try {
        // A fresh data folder: the built-in model, as a new user gets it.
        await services.restoreModels();
        const measured: number[] = [], estimate: number[] = [], gap: number[] = [];
        let identical = 0;
        for (let i = 0; i < races; i++) {
            const race = await services.api.race({ prompt: "Once upon a time", strategies: [...strategies], maxTokens });
            const est = race.speculative.stats.speedupEstimate ?? NaN;
            measured.push(race.speedup);
            estimate.push(est);
            gap.push(Math.abs(est - race.speedup));
            if (race.identical) identical++;
        }
        return { model: "stories260K", strategies: [...strategies], tokens: maxTokens, races, measured: spread(measured), estimate: spread(estimate), gap: spread(gap), identical };
    } finally {
        await services.close();
        rmSync(dir, { recursive: true, force: true });
    }
}
