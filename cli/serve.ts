import { basename } from "node:path";
import { DatastoreError } from "../datastore/datastore-error.ts";
import { ensureRendererBuilt } from "../server/renderer-build.ts";
import { ServerConfigError, startServer } from "../server/server.ts";
import { defaultDbPath } from "../core/data-dir.ts";
import { ServiceError } from "../core/service-error.ts";
import { hasRpcRuntime } from "../native-models/runtime/llama-runtime.ts";
import { CliError, intOption, parseCommandArgs, printJson, rpcOption, UsageError, type Command } from "./command.ts";

const help = `presage serve — the chat window and an OpenAI-compatible API over HTTP, without Electron

Usage: presage serve [options]

Options:
  --host ADDR         address to bind (default 127.0.0.1); any other needs --api-key
  --port N            port (default 7745; 0 picks a free one)
  --models-dir DIR    the models folder (default PRESAGE_MODELS_DIR, else the one chosen in the window,
                      else "models" in the app's data folder; created on first use)
  --db FILE           the datastore: conversations, settings, documents (default PRESAGE_DB, else the app's data folder)
  --api-key KEY       require the key on /v1 ("Authorization: Bearer KEY") and on the app API (the
                      printed address carries a token derived from it); required off loopback
  --model FILE        target model to load at start (a path, or a file name in the models folder;
                      default: the last one used, else the built-in demo model stories260K)
  --draft FILE        draft model for the "draft" strategy (same vocabulary as the target)
  --threads N         llama.cpp threads (default: the settings', else automatic)
  --rpc HOST:PORT,... remote workers (llama.cpp's rpc-server, unauthenticated: private networks only)
                      the target is split across; drafts stay here. Needs \`npm run build:rpc\`
  --max-queue N       requests that may wait for the model (default 16); more get 503
  --no-build          do not build the chat window if it is missing
  --json              print one JSON line { url, appUrl, token, openaiBaseUrl } instead of the text

The chat window is at the printed address (its #token= part lets the page use the app API).
Requests are answered one at a time on the model; others wait in line. A request naming another
model of the models folder loads it first (GET /v1/models lists them).
Stop with Ctrl+C (a second Ctrl+C stops at once).
`;

/** How long stopping may take before the process ends anyway. */
const shutdownDeadlineMs = 4000;

export const serveCommand: Command = {
    name: "serve",
    summary: "serve the chat window and an OpenAI-compatible API on 127.0.0.1",
    help,
    async run(argv) {
        const { values } = parseCommandArgs(argv, {
            host: { type: "string" },
            port: { type: "string" },
            "models-dir": { type: "string" },
            db: { type: "string" },
            "api-key": { type: "string" },
            model: { type: "string" },
            draft: { type: "string" },
            threads: { type: "string" },
            rpc: { type: "string" },
            "max-queue": { type: "string" },
            "no-build": { type: "boolean" }
        });
        const port = intOption(values.port, "port", 7745, 0, 65535);
        if (values["api-key"] != null && values["api-key"].trim() === "")
            throw new UsageError("--api-key is empty: give it a secret (a long random string), or leave it out on 127.0.0.1");
        const say = (line: string) => process.stderr.write(`presage serve: ${line}\n`);
        if (!values["no-build"]) {
            const built = await ensureRendererBuilt(say);
            if (built === "no-sources" || built === "failed") say("the chat window is not built; the page will say how to build it (the API works without it)");
        }
        if (values.draft != null && values.model == null) throw new CliError("--draft needs --model: a draft drafts for a target.");
        const rpcWorkers = rpcOption(values.rpc);
        if (rpcWorkers != null && !hasRpcRuntime()) throw new CliError("--rpc needs llama.cpp built with its RPC backend, which is not built here: run `npm run build:rpc` once (about 20 minutes on 2 cores).");
        let server;
        try {
            server = await startServer({
                host: values.host,
                port,
                apiKey: values["api-key"] ?? null,
                model: values.model,
                draft: values.draft ?? null,
                services: {
                    modelsDir: values["models-dir"] ?? (process.env.PRESAGE_MODELS_DIR || undefined),
                    dbPath: values.db ?? defaultDbPath(),
                    threads: values.threads == null ? undefined : intOption(values.threads, "threads", 1, 1, 1024),
                    rpcWorkers,
                    maxWaiting: intOption(values["max-queue"], "max-queue", 16, 0, 10_000)
                }
            });
        } catch (err) {
            if (err instanceof ServerConfigError || err instanceof ServiceError || err instanceof DatastoreError) throw new CliError(err.message);
            throw err;
        }
        // The last used model, else the built-in one, loads in the background: the window shows its
        // progress, and requests wait for it.
        if (values.model == null) void server.services.restoreModels();
        const info = server.services.models.info();
        const loading = server.services.models.loading();
        if (values.json) printJson({ url: server.url, appUrl: server.appUrl, token: server.token, openaiBaseUrl: `${server.url}/v1`, model: info?.modelPath ?? loading?.target ?? null });
        else {
            process.stdout.write([
                `Presage is serving on ${server.url}`,
                `  chat window: ${server.appUrl}`,
                `  OpenAI API:  ${server.url}/v1 ${values["api-key"] != null ? "(Authorization: Bearer <your --api-key>)" : "(no key needed on this machine)"}`,
                `  model:       ${info != null ? basename(info.modelPath) + (info.draftModelPath ? ` drafted by ${basename(info.draftModelPath)}` : "")
                    : loading != null ? `${basename(loading.target)}${loading.builtin ? " (the built-in demo model)" : ""}, loading…`
                    : "none (choose one in the window)"}`,
                `  models:      ${server.services.models.modelsDir}`,
                ""
            ].join("\n"));
        }
        await new Promise<void>((resolve) => {
            const stop = () => resolve();
            process.once("SIGINT", stop);
            process.once("SIGTERM", stop);
        });
        say("stopping…");
        // Whatever is in flight (an answer, a download, indexing, watchers) gets a few seconds to let
        // go; a second Ctrl+C, or the deadline, ends the process anyway.
        const again = new Promise<"forced">((resolve) => {
            process.once("SIGINT", () => resolve("forced"));
            process.once("SIGTERM", () => resolve("forced"));
        });
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), shutdownDeadlineMs)));
        const how = await Promise.race([server.close().then(() => "closed" as const), again, deadline]);
        clearTimeout(timer);
        if (how !== "closed") say(how === "late" ? `still busy after ${shutdownDeadlineMs / 1000} s: stopping anyway` : "stopping at once");
        return 0;
    }
};
