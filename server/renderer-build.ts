import { existsSync } from "node:fs";
import { join } from "node:path";
import { packageRoot } from "../native-models/models-dir.ts";

/** Where the chat window's sources and build live. */
export const rendererDir = join(packageRoot, "renderer");
export const rendererDistDir = join(rendererDir, "dist");

/**
 * Builds the chat window with Vite if it has not been built (`npm run build:renderer` does the same).
 * Returns what happened; a failed build is reported, not thrown: the API still works without the window.
 */
export async function ensureRendererBuilt(log: (line: string) => void = () => undefined): Promise<"present" | "built" | "no-sources" | "failed"> {
    if (existsSync(join(rendererDistDir, "index.html"))) return "present";
    const configFile = join(rendererDir, "vite.config.ts");
    if (!existsSync(configFile)) return "no-sources";
    log("building the chat window (first start; `npm run build:renderer` does this ahead of time)…");
    try {
        const { build } = await import("vite");
        await build({ configFile, logLevel: "warn" });
        return existsSync(join(rendererDistDir, "index.html")) ? "built" : "failed";
    } catch (err) {
        log(`could not build the chat window: ${(err as Error).message.split("\n")[0]}`);
        return "failed";
    }
}
