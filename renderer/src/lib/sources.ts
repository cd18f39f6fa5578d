import type { DocumentsResponse, DraftSource, EngineInfo, Settings, StrategyName } from "./types.ts";

/** The drafters as the user knows them. */
export const sourceLabels: Record<DraftSource, string> = {
    draft: "Draft model",
    ngram: "N-gram",
    retrieval: "Documents",
    history: "History",
    "early-exit": "Early exit",
    oracle: "Oracle"
};

export const sourceOrder: DraftSource[] = ["draft", "ngram", "retrieval", "history", "early-exit", "oracle"];

/** The strategy switches in Settings.strategies, in display order. */
export type StrategySwitch = "draft" | "ngram" | "retrieval" | "history" | "early-exit";
export const strategySwitches: { name: StrategySwitch; label: string; hint: string }[] = [
    { name: "draft", label: "Draft model", hint: "A small model with the same vocabulary guesses ahead." },
    { name: "ngram", label: "N-gram", hint: "Guesses from repeats in the prompt and the answer so far." },
    { name: "retrieval", label: "Documents", hint: "Guesses from your indexed documents." },
    { name: "history", label: "History", hint: "Guesses from past answers." },
    { name: "early-exit", label: "Early exit", hint: "The model's own first layers guess (self-speculation); not part of Auto." }
];

/** "auto" as the user knows it (the same word in Settings, the Race view, the CLI and the API). */
export const autoLabel = "Auto";
export const autoHint = "Every strategy that can run now but early exit. Every strategy runs under hypothesis reduction: only guesses the measured verification cost pays for are checked.";

export const raceStrategies: { name: StrategyName; label: string }[] = [
    { name: "auto", label: autoLabel },
    { name: "draft", label: "Draft model" },
    { name: "ngram", label: "N-gram" },
    { name: "retrieval", label: "Documents" },
    { name: "history", label: "History" },
    { name: "early-exit", label: "Early exit" }
];

/** The strategies an answer can use, each with whether it runs now and, when it cannot, why. */
export interface StrategyStatus {
    name: StrategySwitch;
    label: string;
    /** Switched on in Settings (or by "auto"). */
    on: boolean;
    /** On, and able to run with what is loaded and indexed now. */
    runs: boolean;
    /** Why it does not run; null when it runs. */
    reason: string | null;
}

/**
 * What the next answer can use: each strategy with whether it runs and why not. Retrieval needs
 * indexed documents and History past answers, even with the document store attached.
 */
export function strategyStatus(settings: Settings | null, engine: EngineInfo | null, documents: DocumentsResponse | null): StrategyStatus[] {
    return strategySwitches.map(({ name: source, label }) => {
        // Auto runs every available strategy but early exit, whatever the single switches say.
        const auto = settings?.strategies.auto ?? false;
        const on = settings != null && (auto ? source !== "early-exit" : settings.strategies[source]);
        const why = (): string | null => {
            if (engine == null) return "no model is loaded";
            if (auto && source === "early-exit") return "not part of Auto: untuned early exits rarely pay";
            if (!on) return "off in Settings";
            switch (source) {
                case "draft":
                    return engine.draftModelPath == null ? "no draft model is loaded: choose one in Models" : null;
                case "retrieval":
                    if (!engine.available.includes("retrieval")) return "the document store is not open";
                    return (documents?.tokens ?? 0) > 0 ? null : "no documents are indexed: add some in Documents";
                case "history":
                    if (!settings!.historyEnabled) return "keeping answers is off in Settings";
                    if (!engine.available.includes("history")) return "the document store is not open";
                    return (documents?.historyAnswers ?? 0) > 0 ? null : "there are no past answers yet";
                default:
                    return engine.available.includes(source) ? null : "the loaded model does not support it";
            }
        };
        const reason = why();
        return { name: source, label, on, runs: reason == null, reason };
    });
}
