import type { SamplingSettings, Settings, StrategyName } from "./app-api.ts";
import type { SamplingOptions } from "../native-models/decoding/sampling.ts";
import type { EventBus } from "./event-bus.ts";
import { settingsPatchSchema, type SettingsPatch } from "./schemas.ts";
import { validate } from "./validation.ts";

/** Where settings persist: the datastore's key/value settings satisfy it. */
export interface SettingsStore {
    getJson(key: string): unknown;
    setJson(key: string, value: unknown): void;
}

export const defaultSettings: Settings = {
    strategies: { auto: true, draft: true, ngram: true, retrieval: true, history: true, "early-exit": false },
    exact: false,
    maxDraft: "auto",
    // Sampling, as chat apps do (LM Studio's 0.8): greedy (temperature 0) is one switch away in the
    // window, and speculative sampling keeps the same distribution either way.
    sampling: { temperature: 0.8, topK: 40, topP: 0.95, minP: 0.05, repeatPenalty: 1, maxTokens: 512, seed: null },
    backend: "auto",
    gpuLayers: "auto",
    // The model's trained context: a larger one is the user's choice, with a warning in Settings.
    contextSize: "auto",
    threads: 0,
    rpcWorkers: [],
    targetModel: null,
    draftModel: null,
    theme: "system",
    historyEnabled: true,
    // What fits a person's documents folder, not a whole disk (the datastore's defaults too).
    indexMaxFiles: 100_000,
    indexMaxBytes: 2 * 1024 * 1024 * 1024
};

const settingsKey = "app.settings";
/** The datastore's own switch for the history drafter, kept in step with `historyEnabled`. */
const historyKey = "history.enabled";
/** The datastore's limits per document source, kept in step with `indexMaxFiles` / `indexMaxBytes`. */
const limitKeys = { indexMaxFiles: "ingest.maxSourceFiles", indexMaxBytes: "ingest.maxSourceBytes" } as const;

/** The user's settings: defaults, validated patches, persistence, and a "settings" event on change. */
export class SettingsService {
    private current: Settings;
    private readonly listeners = new Set<(next: Settings, previous: Settings) => void>();

    constructor(private readonly store: SettingsStore, private readonly events: EventBus) {
        this.current = merge(defaultSettings, readStored(store.getJson(settingsKey)));
        this.syncLimits();
    }

    /** The ingestor reads the limits from the datastore's own keys. */
    private syncLimits(): void {
        for (const [field, key] of Object.entries(limitKeys) as [keyof typeof limitKeys, string][])
            if (this.store.getJson(key) !== this.current[field]) this.store.setJson(key, this.current[field]);
    }

    get(): Settings {
        return structuredClone(this.current);
    }

    /** What `update(patch)` would make the settings, without applying it; throws like `update`. */
    preview(patch: unknown): Settings {
        return structuredClone(merge(this.current, validate(settingsPatchSchema, patch, "settings")));
    }

    /** Applies any subset of the settings; throws "invalid-request" naming the first bad field. */
    update(patch: unknown): Settings {
        const valid = validate(settingsPatchSchema, patch, "settings");
        const previous = this.current;
        this.current = merge(this.current, valid);
        this.store.setJson(settingsKey, this.current);
        if (valid.historyEnabled != null) this.store.setJson(historyKey, valid.historyEnabled);
        this.syncLimits();
        const settings = this.get();
        this.events.publish({ type: "settings", settings });
        for (const listener of [...this.listeners]) listener(this.get(), previous);
        return settings;
    }

    /** Called after every change with the new and the previous settings; returns the unsubscribe function. */
    onChange(listener: (next: Settings, previous: Settings) => void): () => void {
        this.listeners.add(listener);
        return () => void this.listeners.delete(listener);
    }

    /** The strategies switched on, as engine strategy names: `["auto"]` when "auto" is on. */
    enabledStrategies(): StrategyName[] {
        const s = this.current.strategies;
        if (s.auto) return ["auto"];
        return (["draft", "ngram", "retrieval", "history", "early-exit"] as const).filter((name) => s[name]);
    }

    /** The engine's sampler options from the settings, with a conversation's or request's overrides. */
    sampling(...overrides: (Partial<SamplingSettings> | undefined)[]): { sampling: SamplingOptions; maxTokens: number } {
        let s: SamplingSettings = this.current.sampling;
        for (const o of overrides) if (o != null) s = { ...s, ...presentOnly(o) };
        return { sampling: toSamplingOptions(s), maxTokens: s.maxTokens };
    }
}

export function toSamplingOptions(s: Omit<SamplingSettings, "maxTokens">): SamplingOptions {
    return {
        temperature: s.temperature,
        topK: s.topK,
        topP: s.topP,
        minP: s.minP,
        repeatPenalty: s.repeatPenalty === 1 ? undefined : { penalty: s.repeatPenalty },
        seed: s.seed ?? undefined
    };
}

function merge(base: Settings, patch: SettingsPatch): Settings {
    return {
        ...base,
        ...definedOnly(patch),
        strategies: { ...base.strategies, ...definedOnly(patch.strategies ?? {}) },
        sampling: { ...base.sampling, ...definedOnly(patch.sampling ?? {}) }
    } as Settings;
}

/** Stored settings from an older or hand-edited file: keep the fields that still validate. */
function readStored(value: unknown): SettingsPatch {
    if (value == null || typeof value !== "object") return {};
    const out: Record<string, unknown> = {};
    // Before hypothesis reduction was always on, it had a switch of its own.
    const strategies = (value as { strategies?: Record<string, unknown> }).strategies;
    if (strategies != null && typeof strategies === "object") delete strategies.reduction;
    for (const [key, v] of Object.entries(value)) {
        const field = settingsPatchSchema.shape[key as keyof typeof settingsPatchSchema.shape];
        if (field != null && field.safeParse(v).success) out[key] = v;
    }
    return out as SettingsPatch;
}

/** Overrides: a null field means "use the setting". */
function presentOnly<T extends object>(o: T): Partial<T> {
    return Object.fromEntries(Object.entries(o).filter(([, v]) => v != null)) as Partial<T>;
}

function definedOnly<T extends object>(o: T): Partial<T> {
    return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
