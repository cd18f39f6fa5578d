import type { Metafile } from "esbuild";

/** Packages the main bundle loads from node_modules at run time. */
export const mainExternals: string[];
/** Builds electron/dist (main bundle, ingestion worker, preload); resolves to its folder and the main build's metafile. */
export function buildElectron(): Promise<{ out: string; metafile: Metafile }>;
