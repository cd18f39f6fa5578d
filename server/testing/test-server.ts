import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { startServer, type RunningServer, type ServerOptions } from "../server.ts";
import type { AppServicesOptions } from "../../core/app-services.ts";

export interface TestServerOptions extends Omit<ServerOptions, "services" | "model"> {
    /** Model files copied into a fresh models folder. */
    modelFiles?: string[];
    /** Which of them to load at start (file name or path); default the first, null for none. */
    load?: string | null;
    /** Options for the services besides the folders (threads default 1, calibrate default false). */
    services?: Partial<AppServicesOptions>;
}

export interface TestServer extends RunningServer {
    /** The temporary folder holding the models folder and the datastore. */
    readonly dir: string;
    readonly modelsDir: string;
    /** Closes the server and deletes the folder. */
    dispose(): Promise<void>;
}

/**
 * `presage serve` in-process on 127.0.0.1 with a free port, a fresh datastore and models folder in
 * a temporary directory, and (by default) the first model loaded on one thread: for tests, browser
 * tests of the window included (open `server.appUrl`).
 */
export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
    const dir = mkdtempSync(join(tmpdir(), "presage-server-"));
    const modelsDir = join(dir, "models");
    mkdirSync(modelsDir);
    for (const file of options.modelFiles ?? []) copyFileSync(file, join(modelsDir, basename(file)));
    const first = options.modelFiles?.[0];
    const load = options.load === undefined ? (first != null ? basename(first) : undefined) : options.load ?? undefined;
    let server: RunningServer;
    try {
        server = await startServer({
            port: 0,
            ...options,
            model: load,
            services: { modelsDir, dbPath: join(dir, "presage.db"), threads: 1, calibrate: false, ingestWorkers: 1, ...options.services }
        });
    } catch (err) {
        rmSync(dir, { recursive: true, force: true });
        throw err;
    }
    return {
        ...server,
        dir,
        modelsDir,
        async dispose() {
            await server.close();
            rmSync(dir, { recursive: true, force: true });
        }
    };
}
