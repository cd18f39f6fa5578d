import { svelte } from "@sveltejs/vite-plugin-svelte";
import { fileURLToPath } from "node:url";
import { defineConfig, type Plugin } from "vite";

const root = fileURLToPath(new URL(".", import.meta.url));

/** The dev server injects styles and its client inline: relax the page's CSP there only. */
function devCsp(): Plugin {
    return {
        name: "presage-dev-csp",
        apply: "serve",
        transformIndexHtml: (html) =>
            html.replace("style-src 'self'", "style-src 'self' 'unsafe-inline'").replace("connect-src 'self'", "connect-src 'self' ws: http://127.0.0.1:*")
    };
}

export default defineConfig({
    root,
    base: "./",
    plugins: [svelte(), devCsp()],
    resolve: { conditions: ["browser"] },
    build: {
        outDir: "dist",
        emptyOutDir: true,
        target: "es2022",
        // One small app: one script and one stylesheet; no inline module-preload polyfill (CSP).
        modulePreload: { polyfill: false },
        assetsInlineLimit: 0,
        chunkSizeWarningLimit: 1500
    }
});
