import type { SamplingOptions } from "../native-models/decoding/sampling.ts";
import { ChatSession } from "../native-models/chat/chat-session.ts";
import { PresageEngine, type GenerateResult } from "../native-models/engine/presage-engine.ts";
import { parseStrategies, type StrategyName } from "../native-models/engine/strategy.ts";
import { openDatastoreDrafters } from "./datastore-drafters.ts";
import { backendOption, CliError, intOption, numberOption, parseCommandArgs, printJson, requireOption, rpcOption, UsageError, type Command } from "./command.ts";

const help = `presage generate — generate text with llama.cpp, plainly or with speculative decoding

Usage: presage generate --model FILE --prompt TEXT [options]

Options:
  --model FILE          the target GGUF model
  --prompt TEXT         the prompt (raw text; with --chat, the user message)
  --chat                apply the model's chat template
  --system TEXT         system prompt (with --chat)
  --max-tokens N        tokens to generate (default 256)
  --temperature T       0 = greedy (default 0)
  --top-k N, --top-p P, --min-p P, --repeat-penalty X   sampling options
  --seed N              seed for sampling (reproducible output)
  --threads N           llama.cpp threads (default: measured at load, fastest of 1 and the math cores)
  --backend B           auto, cpu, cuda, vulkan or metal (default auto)
  --context-size N      context tokens (default: the model's, at most 4096)
  --rpc HOST:PORT,...   remote workers (llama.cpp's rpc-server, unauthenticated: private networks
                        only): the target's layers are split across them; drafts stay here.
                        Needs \`npm run build:rpc\`
  --gpu-layers N|max|auto  layers on the GPU, or with --rpc on the workers (default auto)
  --strategy LIST       comma list of none, draft, ngram, early-exit, retrieval, history, auto (default none)
  --draft FILE          draft model for the "draft" strategy (same vocabulary as the target)
  --db FILE             Presage datastore for the "retrieval" and "history" strategies
  --max-draft N|auto    most guessed tokens per step (default auto)
  --exact               exact mode: every batch at least two rows, so output is bit-identical to
                        Presage's exact plain decoding on any backend (slower plain steps)
  --json                print one JSON object: { text, tokens, stats }
`;

export const generateCommand: Command = {
    name: "generate",
    summary: "generate text, plainly or with speculative decoding",
    help,
    async run(argv) {
        const { values } = parseCommandArgs(argv, {
            model: { type: "string" },
            prompt: { type: "string" },
            chat: { type: "boolean" },
            system: { type: "string" },
            "max-tokens": { type: "string" },
            temperature: { type: "string" },
            "top-k": { type: "string" },
            "top-p": { type: "string" },
            "min-p": { type: "string" },
            "repeat-penalty": { type: "string" },
            seed: { type: "string" },
            threads: { type: "string" },
            backend: { type: "string" },
            "context-size": { type: "string" },
            strategy: { type: "string" },
            draft: { type: "string" },
            db: { type: "string" },
            "max-draft": { type: "string" },
            exact: { type: "boolean" },
            rpc: { type: "string" },
            "gpu-layers": { type: "string" }
        });
        const modelPath = requireOption(values.model, "model");
        const prompt = requireOption(values.prompt, "prompt");
        const maxTokens = intOption(values["max-tokens"], "max-tokens", 256, 1, 1_000_000);
        const sampling: SamplingOptions = {
            temperature: numberOption(values.temperature, "temperature", 0, 0, 10),
            topK: values["top-k"] == null ? undefined : intOption(values["top-k"], "top-k", 40, 0),
            topP: values["top-p"] == null ? undefined : numberOption(values["top-p"], "top-p", 0.95, 0, 1),
            minP: values["min-p"] == null ? undefined : numberOption(values["min-p"], "min-p", 0, 0, 1),
            repeatPenalty: values["repeat-penalty"] == null ? undefined : { penalty: numberOption(values["repeat-penalty"], "repeat-penalty", 1, 0, 10) },
            seed: values.seed == null ? undefined : intOption(values.seed, "seed", 0, 0, 0x7fffffff)
        };
        const backend = backendOption(values.backend);
        let strategies: StrategyName[];
        try {
            strategies = parseStrategies(values.strategy ?? "none");
        } catch (err) {
            throw new UsageError((err as Error).message);
        }
        const maxDraft = values["max-draft"] == null || values["max-draft"] === "auto" ? "auto" : intOption(values["max-draft"], "max-draft", 8, 1, 64);
        const speculative = strategies.some((s) => s !== "none");
        if (strategies.includes("draft") && values.draft == null) throw new UsageError(`the "draft" strategy needs --draft FILE`);
        if ((strategies.includes("retrieval") || strategies.includes("history")) && values.db == null)
            throw new UsageError(`the "retrieval" and "history" strategies need --db FILE`);

        const rpcWorkers = rpcOption(values.rpc);
        const gpuLayersText = values["gpu-layers"];
        const gpuLayers = gpuLayersText == null || gpuLayersText === "auto" || gpuLayersText === "max" ? gpuLayersText : intOption(gpuLayersText, "gpu-layers", 0, 0, 100_000);

        const engine = await PresageEngine.load({
            modelPath,
            draftModelPath: values.draft,
            backend,
            threads: values.threads == null ? undefined : intOption(values.threads, "threads", 1, 1, 1024),
            contextSize: values["context-size"] == null ? undefined : intOption(values["context-size"], "context-size", 2048, 16, 1 << 20),
            calibrate: speculative,
            rpcWorkers,
            gpuLayers
        }).catch((err: Error) => {
            throw new CliError(err.message);
        });
        const rpc = engine.info.rpc;
        if (rpc != null) {
            for (const note of rpc.notes) process.stderr.write(`presage: ${note}\n`);
            const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(bytes < 2 ** 24 ? 2 : 0)} MiB`;
            const devices = rpc.devices.map((d) => `${d.endpoint} ${d.layers ?? "?"} (${mib(d.modelBytes ?? 0)} of weights; ${(d.freeBytes / 2 ** 30).toFixed(1)} of ${(d.totalBytes / 2 ** 30).toFixed(1)} GiB free)`).join(", ");
            if (rpc.devices.length === 0) process.stderr.write("presage: no worker answered: the whole target runs here\n");
            else process.stderr.write(`presage: ${engine.info.gpuLayers} of the target's ${engine.info.layers} layers on ${rpc.devices.length} worker${rpc.devices.length === 1 ? "" : "s"}: ${devices}\n`);
        }
        const detach = values.db == null ? undefined : await openDatastoreDrafters(engine, values.db);
        try {
            const streaming = !values.json;
            const request = {
                maxTokens,
                sampling,
                strategies,
                maxDraft,
                exact: values.exact ?? false,
                onStep: streaming ? (e: { text: string }) => void process.stdout.write(e.text) : undefined
            } as const;
            let result: GenerateResult;
            if (values.chat) {
                const chat = new ChatSession(engine);
                const messages = [
                    ...(values.system != null ? [{ role: "system" as const, content: values.system }] : []),
                    { role: "user" as const, content: prompt }
                ];
                result = await chat.respond(messages, request);
            } else result = await engine.generate({ prompt, ...request });

            if (values.json) printJson({ text: result.text, tokens: result.tokens, stopReason: result.stopReason, strategies: result.strategies, stats: result.stats, ...(rpc != null ? { rpc } : {}) });
            else {
                process.stdout.write("\n");
                const s = result.stats;
                const speed = s.speedupEstimate != null ? `, ~${s.speedupEstimate.toFixed(2)}x plain (estimate)` : "";
                const first = s.timeToFirstTokenMs != null ? `, first token ${s.timeToFirstTokenMs.toFixed(1)} ms for a ${s.promptTokens}-token prompt` : "";
                process.stderr.write(`${s.tokens} tokens in ${s.seconds.toFixed(2)} s (${s.tokensPerSecond.toFixed(1)} tokens/s generating, ${s.meanAcceptedLength.toFixed(2)} per step${speed}${first})\n`);
            }
            return 0;
        } finally {
            await detach?.();
            await engine.dispose();
        }
    }
};
