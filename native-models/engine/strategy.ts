import type { DraftSource } from "../drafters/drafter.ts";

/** What the user can turn on: one strategy per drafter, `none` for plain decoding, `auto` for every available one but early exit. */
export type StrategyName = "none" | "auto" | Exclude<DraftSource, "oracle">;

export const strategyNames: readonly StrategyName[] = ["none", "draft", "ngram", "early-exit", "retrieval", "history", "auto"];

/** Parses a comma list such as "ngram,draft"; unknown names are an error that lists the known ones. */
export function parseStrategies(list: string): StrategyName[] {
    const names = list.split(",").map((s) => s.trim()).filter((s) => s.length > 0);
    if (names.length === 0) throw new Error(`No strategy given: use one or more of ${strategyNames.join(", ")}.`);
    for (const name of names)
        if (!strategyNames.includes(name as StrategyName))
            throw new Error(`Unknown strategy "${name}": use one or more of ${strategyNames.join(", ")}.`);
    return [...new Set(names as StrategyName[])];
}
