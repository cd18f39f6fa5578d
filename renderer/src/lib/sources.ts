import type { DraftSource, StrategyName } from "./types.ts";

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
export type StrategySwitch = "draft" | "ngram" | "retrieval" | "history" | "early-exit" | "reduction";
export const strategySwitches: { name: StrategySwitch; label: string; hint: string }[] = [
    { name: "draft", label: "Draft model", hint: "A small model with the same vocabulary guesses ahead." },
    { name: "ngram", label: "N-gram", hint: "Guesses from repeats in the prompt and the answer so far." },
    { name: "retrieval", label: "Documents", hint: "Guesses from your indexed documents." },
    { name: "history", label: "History", hint: "Guesses from past answers." },
    { name: "early-exit", label: "Early exit", hint: "The model's own first layers guess (self-speculation)." },
    { name: "reduction", label: "Reduction", hint: "Keeps only the guesses worth verifying (hypothesis reduction)." }
];

export const raceStrategies: { name: StrategyName; label: string }[] = [
    { name: "auto", label: "All available" },
    { name: "draft", label: "Draft model" },
    { name: "ngram", label: "N-gram" },
    { name: "retrieval", label: "Documents" },
    { name: "history", label: "History" },
    { name: "early-exit", label: "Early exit" }
];
