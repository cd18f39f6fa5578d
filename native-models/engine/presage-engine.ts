import type { Llama, LlamaContext, LlamaModel, Token } from "node-llama-cpp";
import { VerificationCostModel } from "../decoding/cost-model.ts";
import { PlainDecodeCost, type DepthCost } from "../decoding/plain-decode-cost.ts";
import type { SamplingOptions } from "../decoding/sampling.ts";
import { SpeculativeDecoder, type StopReason } from "../decoding/speculative-decoder.ts";
import type { AnswerStats, StepEvent } from "../decoding/stats.ts";
import { Verifier } from "../decoding/verifier.ts";
import { DraftModelDrafter } from "../drafters/draft-model-drafter.ts";
import type { Drafter, DraftSource } from "../drafters/drafter.ts";
import { NgramDrafter } from "../drafters/ngram-drafter.ts";
import { OracleDrafter } from "../drafters/oracle-drafter.ts";
import { createReducerMemory, HypothesisReducer, type ReducerMemory } from "../reduction/hypothesis-reducer.ts";
import { createGovernorMemory, SpeculationGovernor, type GovernorMemory } from "../reduction/speculation-governor.ts";
import { presageCacheDir } from "../models-dir.ts";
import { describeBackend, getRuntime, type BackendChoice, type BackendInfo } from "../runtime/llama-runtime.ts";
import { firstGpuLoadNote, GpuLoadMarkers } from "../runtime/gpu-first-load.ts";
import { fastestThreads, loadModelFile, ModelFileError } from "../runtime/model-loader.ts";
import { parseRpcEndpoints, RpcWorkers, type RpcDevice } from "../runtime/rpc-workers.ts";
import { readVocabulary, vocabularyMismatch } from "../runtime/vocabulary.ts";
import { EngineError } from "../engine-error.ts";
import { tokenizerIdentity } from "../runtime/tokenizer-identity.ts";
import { ensureEarlyExitDraft } from "./early-exit.ts";
import type { StrategyName } from "./strategy.ts";
import { TextStream, tokenPieces } from "./text-stream.ts";

export interface EngineOptions {
    modelPath: string;
    /** A smaller model with the same vocabulary, for the `draft` strategy. */
    draftModelPath?: string;
    backend?: BackendChoice;
    /**
     * llama.cpp threads for every decode. Default: measured at load, for each batch size, among 1 and
     * the cores good at math (plain one-token decoding and verification batches differ).
     */
    threads?: number;
    /** Tokens of context; default: the model's training context, at most 4096. */
    contextSize?: number;
    gpuLayers?: number | "auto" | "max";
    /**
     * Remote workers (llama.cpp RPC, `host:port`, each running llama.cpp's rpc-server): the target's
     * layers are split across them and this machine as llama.cpp decides (the GPU layers are those on the
     * workers); the draft models stay here. Needs the RPC build (`npm run build:rpc`).
     */
    rpcWorkers?: readonly string[];
    /** Measure the verification cost and plain speed at load (default true; a few seconds on big models). */
    calibrate?: boolean;
    /** Where derived files (early-exit drafts) are cached; default `presageCacheDir()`. */
    cacheDir?: string;
    /** Blocks kept by the early-exit draft; default: half the target's, rounded up. */
    earlyExitLayers?: number;
    /** Called as the target's weights load, with the fraction loaded (0–1). */
    onLoadProgress?: (progress: number) => void;
    /**
     * Called once before the target loads when the load first compiles the GPU's kernels (a GPU
     * backend, this device, llama.cpp build and model shape never loaded before; see `GpuLoadMarkers`).
     */
    onLoadNote?: (note: string) => void;
}

/** Makes a drafter for a source the engine does not own (documents, history: the datastore's). */
export type DrafterFactory = () => Drafter | Promise<Drafter>;

export interface GenerateRequest {
    /** Raw text (tokenized with BOS) or tokens. */
    prompt: string | readonly Token[];
    maxTokens?: number;
    sampling?: SamplingOptions;
    /**
     * Default ["none"]. `auto` is every available strategy but early exit; a named one that is not
     * available now is an EngineError "strategy-unavailable", unless `skipUnavailable`.
     */
    strategies?: readonly StrategyName[];
    /** Leave out named strategies that are not available now instead of refusing (the settings' switches). */
    skipUnavailable?: boolean;
    maxDraft?: number | "auto";
    /**
     * Exact mode: plain and speculative decoding share one numeric path (every batch has at least two
     * rows), so greedy output is bit-identical to Presage's plain decoding on any backend. Off (the
     * default), plain steps are one-token decodes, as fast as llama.cpp's own, and where the model's
     * batch rows round differently from one-token rows (`calibration.batchInvariant` false) greedy
     * output may differ from plain decoding at near-ties.
     */
    exact?: boolean;
    stopStrings?: readonly string[];
    /** Tokens that end the answer besides the model's end-of-generation tokens. */
    stopTokens?: readonly Token[];
    signal?: AbortSignal;
    onStep?: (event: StepEvent) => void;
    /** A known output to replay: the benchmark's ceiling. */
    oracle?: readonly Token[];
}

export type { StepEvent };

export interface GenerateResult {
    text: string;
    tokens: Token[];
    promptTokens: number;
    stopReason: StopReason;
    stats: AnswerStats;
    /** The drafters that were actually available for the request. */
    strategies: DraftSource[];
}

/** What is loaded, for the UI and `GET /v1/models`. */
export interface EngineInfo {
    modelPath: string;
    draftModelPath: string | null;
    backend: BackendInfo;
    /** Layers of the target offloaded to the GPU device, of `layers` (its blocks and the output layer; 0 on the CPU backend). */
    gpuLayers: number;
    layers: number;
    /** The GPU device's memory when the model had loaded (null on the CPU backend). */
    vram: { totalBytes: number; usedBytes: number } | null;
    threads: number;
    contextSize: number;
    vocabulary: string;
    /** Measured at load; `plainByDepth` is the yardstick of every speedup. */
    calibration: Calibration | null;
    /** The remote workers in use (their devices and memory once the target had loaded), and one line per worker left out or exposed. */
    rpc?: { devices: RpcDevice[]; notes: readonly string[] };
}

/** What was measured at load. */
export interface Calibration {
    /** ms of a step verifying k guesses (index k), at its fastest thread count. */
    stepMs: number[];
    /** ms of one plain one-token decode at its fastest thread count, at a 32-token context. */
    plainTokenMs: number;
    /** The fastest plain decoding of this model here at a 32-token context (answers deeper in are slower: `plainByDepth`). */
    baselineTokensPerSecond: number;
    /** Threads used for a step verifying k guesses (index k). */
    threads: number[];
    /** Whether batch rows are bit-identical to one-token rows on this model and backend (checked at load). */
    batchInvariant: boolean | null;
    /**
     * Plain one-token decoding's cost by context depth: measured at load, updated from the plain steps
     * answers run. Each answer's speedup is against these at its own depths.
     */
    plainByDepth: DepthCost[];
    /** The deepest context the plain cost is predicted for (deeper answers show no speedup). */
    plainKnownDepth: number;
}

/**
 * The accelerated engine: a target model in one context, an optional draft model in another, the
 * drafters and the verification loop. Requests are served one at a time on the target's sequence
 * (answers queue), so the KV cache of a conversation can be reused by its next turn.
 */
export class PresageEngine {
    private queue: Promise<unknown> = Promise.resolve();
    private readonly drafterFactories = new Map<DraftSource, DrafterFactory>();
    /**
     * What hypothesis reduction learned about each source, kept across answers: greedy and sampled
     * answers apart (a greedy target accepts a draft's top token far more often than its confidence
     * says; a sampled one about as often), and exact mode apart (it pays more for a plain step).
     */
    private readonly reducerMemories = new Map<string, ReducerMemory>();
    /**
     * What whole steps cost with and without guessing, kept across answers for each set of sources (one
     * that loses to plain steps must not hold back another that wins) and for exact mode apart.
     */
    private readonly governorMemories = new Map<string, GovernorMemory>();
    private earlyExit: { model: LlamaModel; context: LlamaContext } | null = null;
    private costModel: VerificationCostModel;

    private constructor(
        readonly llama: Llama,
        readonly model: LlamaModel,
        readonly context: LlamaContext,
        readonly verifier: Verifier,
        private readonly draft: { model: LlamaModel; context: LlamaContext } | null,
        private readonly options: EngineOptions,
        private readonly configuredThreads: number,
        readonly backend: BackendInfo,
        private readonly vram: EngineInfo["vram"],
        costModel: VerificationCostModel | null,
        private plainCost: PlainDecodeCost | null
    ) {
        this.costModel = costModel ?? VerificationCostModel.flat();
        this.calibrated = costModel != null;
        this.vocabulary = tokenizerIdentity(model).id;
    }

    private calibrated: boolean;
    private rpc: EngineInfo["rpc"];
    /** The tokenizer's name (the datastore's id for it), hashed once: vocabularies run to 150k tokens. */
    private readonly vocabulary: string;

    static async load(options: EngineOptions): Promise<PresageEngine> {
        const endpoints = parseRpcEndpoints(options.rpcWorkers ?? []);
        const llama = await getRuntime({ backend: options.backend, rpc: endpoints.length > 0 });
        // Registered before the target loads: llama.cpp puts layers on every device registered by then.
        const workers = endpoints.length > 0 ? await RpcWorkers.connect(llama, endpoints) : null;
        // node-llama-cpp's "auto" offloads nothing on a CPU build, which the RPC build is: with workers,
        // "auto" is every layer on them (llama.cpp's `-ngl 99 --rpc`), a number keeps the rest here.
        // When none answered, the model loads here alone.
        const onWorkers = workers != null && workers.endpoints.length > 0;
        if (onWorkers) workers.refuseWhatFitsNowhere(options.modelPath);
        const gpuLayers = !onWorkers ? (workers != null ? 0 : options.gpuLayers) : (options.gpuLayers ?? "auto") === "auto" ? "max" : options.gpuLayers;
        // A first GPU load compiles the device's kernels (40 s for stories260K on llvmpipe): say so first.
        const markers = new GpuLoadMarkers(options.cacheDir ?? presageCacheDir());
        const gpuKey = await GpuLoadMarkers.keyOf(llama, options.modelPath, gpuLayers).catch(() => null);
        if (!(await markers.seen(gpuKey))) options.onLoadNote?.(firstGpuLoadNote);
        const loadTarget = () => loadModelFile(llama, options.modelPath, { gpuLayers, onLoadProgress: options.onLoadProgress });
        const model = await (workers != null ? workers.place(llama, loadTarget) : loadTarget());
        let draftModel: LlamaModel | null = null;
        try {
            // Uncalibrated (`presage generate` plainly), it still measures which of 1 and the math cores is
            // faster for one-token decodes: two threads on a sub-millisecond model ran 25x slower here.
            const threads = options.threads ?? (options.calibrate === false ? await fastestThreads(model, llama.cpuMathCores) : Math.max(1, llama.cpuMathCores));
            const contextSize = options.contextSize ?? Math.min(model.trainContextSize, 4096);
            if (options.draftModelPath != null) {
                // With workers, the GPU layers would be theirs: a draft stays here, where a round trip costs nothing.
                draftModel = await loadModelFile(llama, options.draftModelPath, { gpuLayers: workers != null ? 0 : options.gpuLayers });
                const why = vocabularyMismatch(model, draftModel);
                if (why != null)
                    throw new ModelFileError(options.draftModelPath, `The draft model cannot draft for this target because their vocabularies differ: ${why}. Choose a draft from the same model family.`, "vocabulary-mismatch");
            }
            const context = await model.createContext({ contextSize, threads, sequences: 1 });
            const verifier = new Verifier(context.getSequence());
            const draft = draftModel == null ? null : {
                model: draftModel,
                context: await draftModel.createContext({ contextSize, threads: options.threads ?? await fastestThreads(draftModel, llama.cpuMathCores), sequences: 1 })
            };
            const cost = options.calibrate === false
                ? null
                : await VerificationCostModel.measure(verifier, { vocabularySize: vocabularySize(model), threadCandidates: threadCandidates(options.threads, llama.cpuMathCores) });
            const plainCost = cost == null ? null : await PlainDecodeCost.measure(verifier, { vocabularySize: vocabularySize(model), contextSize: context.contextSize });
            if (cost != null) await warmUp(verifier, cost, vocabularySize(model));
            const backend = await describeBackend(llama);
            const vram = backend.backend === "cpu" ? null : await llama.getVramState().then((v) => ({ totalBytes: v.total, usedBytes: v.used }));
            const engine = new PresageEngine(llama, model, context, verifier, draft, options, threads, backend, vram, cost, plainCost);
            if (workers != null) engine.rpc = { devices: workers.devices(), notes: workers.notes };
            // Loaded, calibrated and warmed up: the kernels this shape needs are compiled (and cached by the driver).
            await markers.remember(gpuKey);
            return engine;
        } catch (err) {
            await draftModel?.dispose();
            await model.dispose();
            throw err;
        }
    }

    /** Registers the maker of a drafter the engine does not own itself (retrieval, history). */
    setDrafterFactory(source: DraftSource, factory: DrafterFactory | null): void {
        if (factory == null) this.drafterFactories.delete(source);
        else this.drafterFactories.set(source, factory);
    }

    get info(): EngineInfo {
        return {
            modelPath: this.options.modelPath,
            draftModelPath: this.options.draftModelPath ?? null,
            backend: this.backend,
            gpuLayers: this.model.gpuLayers,
            layers: this.model.fileInsights.totalLayers,
            vram: this.vram,
            threads: this.threads,
            contextSize: this.context.contextSize,
            vocabulary: this.vocabulary,
            calibration: this.calibrated ? this.calibration() : null,
            ...(this.rpc != null ? { rpc: this.rpc } : {})
        };
    }

    /** Threads of a plain one-token decode (batches may use others: `calibration.threads`). */
    get threads(): number {
        return this.calibrated ? this.costModel.threadsFor(1) : this.configuredThreads;
    }

    get cost(): VerificationCostModel {
        return this.costModel;
    }

    /** Plain decoding's cost by depth (null before calibration): the yardstick of every speedup. */
    get plainDecodeCost(): PlainDecodeCost | null {
        return this.plainCost;
    }

    private calibration(): Calibration {
        const c = this.costModel;
        const ks = Array.from({ length: c.maxGuesses + 1 }, (_, k) => k);
        return {
            stepMs: ks.map((k) => c.cost(k)),
            plainTokenMs: c.plainTokenMs,
            baselineTokensPerSecond: c.baselineTokensPerSecond,
            threads: ks.map((k) => c.threadsFor(k + 1)),
            batchInvariant: c.batchInvariant,
            plainByDepth: this.plainCost?.points ?? [],
            plainKnownDepth: this.plainCost?.knownDepth ?? -1
        };
    }

    /** The strategies usable now: `draft` needs a draft model, retrieval/history need the datastore. */
    available(): DraftSource[] {
        const out: DraftSource[] = ["ngram", "early-exit"];
        if (this.draft != null) out.unshift("draft");
        for (const source of this.drafterFactories.keys()) out.push(source);
        return out;
    }

    tokenize(text: string, addBos = true): Token[] {
        const tokens = this.model.tokenize(text, false);
        const bos = this.model.tokens.bos;
        return addBos && bos != null && this.model.tokens.shouldPrependBosToken ? [bos, ...tokens] : tokens;
    }

    detokenize(tokens: readonly Token[]): string {
        return this.model.detokenize(tokens as Token[]);
    }

    /**
     * Runs `task` when the target's sequence is free: the lock of callers that use the engine
     * directly (the CLI, the bench). The app runs every request in its own bounded queue
     * (core/generation-queue.ts) and calls the `…Now` methods, so its requests wait in one line only.
     */
    exclusive<T>(task: () => Promise<T>): Promise<T> {
        const run = this.queue.then(task, task);
        this.queue = run.catch(() => undefined);
        return run;
    }

    /** Generates a continuation of a raw prompt. Queued behind other requests. */
    generate(request: GenerateRequest): Promise<GenerateResult> {
        return this.exclusive(() => this.generateNow(typeof request.prompt === "string" ? this.tokenize(request.prompt) : [...request.prompt], request));
    }

    /**
     * Generates after `prompt` tokens without queueing; for callers that already own the sequence
     * (inside `exclusive`, or the app's queue).
     * The KV cache keeps the longest common prefix with the previous request.
     */
    async generateNow(prompt: Token[], request: Omit<GenerateRequest, "prompt">): Promise<GenerateResult> {
        const strategies = this.resolveStrategies(request.strategies ?? ["none"], request);
        const drafters: Drafter[] = [];
        try {
            for (const source of strategies) drafters.push(await this.createDrafter(source));
            if (request.oracle != null) drafters.push(new OracleDrafter(request.oracle, typeof request.maxDraft === "number" ? request.maxDraft : 8));
            // Every guess goes through hypothesis reduction, bounded by the measured verification cost;
            // only the oracle (the benchmark's ceiling of the loop) verifies a fixed length.
            const cost = request.exact ? this.costModel.forExact() : this.costModel;
            const reducer = drafters.length === 0 || request.oracle != null
                ? null
                : new HypothesisReducer(cost, { maxDraft: request.maxDraft }, this.reducerMemoryFor(request));
            // Measured against plain steps only on a calibrated model: before that the thread counts are
            // not settled, and tests that need every step to guess load without calibration.
            const governor = reducer != null && this.calibrated ? new SpeculationGovernor(this.governorMemory(drafters, request.exact ?? false)) : null;
            this.verifier.exact = request.exact ?? false;
            const decoder = new SpeculativeDecoder(this.verifier, drafters, reducer, this.calibrated ? this.plainCost : null, this.costModel.batchInvariant, governor);
            const text = new TextStream(this.model, request.stopStrings ?? []);
            const onStep = request.onStep;
            const stopTokens = new Set(request.stopTokens ?? []);
            const result = await decoder.decode(prompt, {
                maxTokens: request.maxTokens ?? 256,
                sampling: request.sampling,
                maxDraft: request.maxDraft,
                signal: request.signal,
                isStopToken: (t) => this.model.isEogToken(t) || stopTokens.has(t),
                stopAt: request.stopStrings?.length ? (out) => (text.update(out), text.stopAt(out)) : undefined,
                onStep: onStep == null ? undefined : (step, out) => {
                    text.update(out);
                    const delta = text.delta();
                    // Only accepted guesses are coloured apart from the target's own token: a step without
                    // them needs no per-token text (a detokenize call per token, on every streamed step).
                    onStep({ ...step, text: delta, pieces: step.accepted > 0 ? this.pieces(step.tokens, out, delta) : undefined });
                }
            });
            const finalText = request.stopStrings?.length && result.stopReason === "stop" ? text.fullText : this.detokenize(result.tokens);
            if (onStep != null) {
                // Text held back in case it began a stop string or a character is now final.
                text.update(result.tokens);
                const rest = text.delta(true);
                if (rest.length > 0) onStep({ step: result.stats.steps, drafted: 0, accepted: 0, source: null, tokens: [], text: rest, ms: 0 });
            }
            return { text: finalText, tokens: result.tokens, promptTokens: prompt.length, stopReason: result.stopReason, stats: result.stats, strategies };
        } finally {
            for (const d of drafters) if (!(d instanceof DraftModelDrafter)) await d.dispose();
        }
    }

    private reducerMemoryFor(request: Omit<GenerateRequest, "prompt">): ReducerMemory {
        const key = `${request.exact ? "exact " : ""}${(request.sampling?.temperature ?? 0) > 0 ? "sampled" : "greedy"}`;
        let memory = this.reducerMemories.get(key);
        if (memory == null) this.reducerMemories.set(key, (memory = createReducerMemory()));
        return memory;
    }

    private governorMemory(drafters: readonly Drafter[], exact: boolean): GovernorMemory {
        const key = `${exact ? "exact " : ""}${drafters.map((d) => d.source).sort().join("+")}`;
        let memory = this.governorMemories.get(key);
        if (memory == null) this.governorMemories.set(key, (memory = createGovernorMemory()));
        return memory;
    }

    /** Measures the verification cost now (if `calibrate: false` was given at load, or to refresh it). */
    calibrate(): Promise<VerificationCostModel> {
        return this.exclusive(async () => {
            this.costModel = await VerificationCostModel.measure(this.verifier, { vocabularySize: vocabularySize(this.model), threadCandidates: threadCandidates(this.options.threads, this.llama.cpuMathCores) });
            this.plainCost = await PlainDecodeCost.measure(this.verifier, { vocabularySize: vocabularySize(this.model), contextSize: this.context.contextSize });
            this.calibrated = true;
            return this.costModel;
        });
    }

    async dispose(): Promise<void> {
        await this.queue.catch(() => undefined);
        for (const d of this.drafterCache.values()) await d.dispose();
        this.drafterCache.clear();
        await this.earlyExit?.context.dispose();
        await this.earlyExit?.model.dispose();
        await this.draft?.context.dispose();
        await this.draft?.model.dispose();
        this.verifier.dispose();
        await this.context.dispose();
        await this.model.dispose();
    }

    /** Each token's text (with a few tokens before it for context), when they add up to the step's text. */
    private pieces(tokens: readonly Token[], output: readonly Token[], text: string): string[] | undefined {
        // Whole characters only: one spelled over several tokens goes to the token that completes it.
        return tokenPieces(this.model, output, tokens.length, text);
    }

    /**
     * The drafters `names` asks for with what is loaded now: the one place strategies are resolved.
     * @throws EngineError "strategy-unavailable" for a named one that is not available (unless `skipUnavailable`).
     */
    private resolveStrategies(names: readonly StrategyName[], options: { skipUnavailable?: boolean } = {}): DraftSource[] {
        const available = this.available();
        // Early exit is left out of auto: without tuning its exits disagree early (LITE), and on a big
        // target its derived draft is a file of half the target's size made on first use.
        if (names.includes("auto")) return available.filter((s) => s !== "early-exit");
        const out: DraftSource[] = [];
        for (const name of names) {
            if (name === "none" || name === "auto") continue;
            if (!available.includes(name)) {
                if (options.skipUnavailable) continue;
                const why = name === "draft" ? "no draft model is loaded" : name === "retrieval" || name === "history" ? "no document store is attached to the model" : "the loaded model does not support it";
                throw new EngineError("strategy-unavailable", `The "${name}" strategy is not available: ${why}. Available: ${["none", "auto", ...available].join(", ")}.`);
            }
            out.push(name);
        }
        return out;
    }

    /** Draft-model drafters keep their KV cache between requests; the others are cheap to rebuild. */
    private readonly drafterCache = new Map<DraftSource, DraftModelDrafter>();

    private async createDrafter(source: DraftSource): Promise<Drafter> {
        switch (source) {
            case "ngram":
                return new NgramDrafter();
            case "draft":
            case "early-exit": {
                let d = this.drafterCache.get(source);
                if (d == null) {
                    const context = source === "draft" ? this.draft!.context : (await this.loadEarlyExit()).context;
                    // An early exit is a weak drafter (LITE: untuned exits disagree early): short, confident chains only.
                    d = new DraftModelDrafter(context.getSequence(), source === "draft" ? { source } : { source, maxTokens: 6, minConfidence: 0.5 });
                    this.drafterCache.set(source, d);
                }
                return d;
            }
            default: {
                const factory = this.drafterFactories.get(source);
                if (factory == null) throw new EngineError("strategy-unavailable", `The "${source}" strategy is not available.`);
                return factory();
            }
        }
    }

    private async loadEarlyExit(): Promise<{ model: LlamaModel; context: LlamaContext }> {
        if (this.earlyExit == null) {
            const path = await ensureEarlyExitDraft(this.options.modelPath, {
                cacheDir: this.options.cacheDir ?? presageCacheDir(),
                layers: this.options.earlyExitLayers
            });
            const model = await loadModelFile(this.llama, path, { gpuLayers: this.rpc != null ? 0 : this.options.gpuLayers });
            const context = await model.createContext({ contextSize: this.context.contextSize, threads: this.options.threads ?? await fastestThreads(model, this.llama.cpuMathCores), sequences: 1 });
            this.earlyExit = { model, context };
        }
        return this.earlyExit;
    }
}

/**
 * Runs the decoding loop once on a model whose token takes under two milliseconds: until V8 has compiled
 * it, the loop's own bookkeeping cost a first answer of stories260K a fifth of its speed (its estimate
 * against plain decoding read 0.81 on the first answer, 0.95-0.98 after). Bigger models spend too long
 * a token for the difference to show.
 */
async function warmUp(verifier: Verifier, cost: VerificationCostModel, vocabularySize: number): Promise<void> {
    if (cost.plainTokenMs >= 2) return;
    const prompt = Array.from({ length: 16 }, (_, i) => ((i * 7919 + 13) % vocabularySize) as Token);
    await new SpeculativeDecoder(verifier, [], null).decode(prompt, { maxTokens: 256 });
    await verifier.clear();
}

/** Thread counts worth measuring: the user's, else one and every math core. */
function threadCandidates(threads: number | undefined, cpuMathCores: number): number[] {
    return threads != null ? [threads] : [...new Set([Math.max(1, cpuMathCores), 1])];
}

function vocabularySize(model: LlamaModel): number {
    return readVocabulary(model).tokens.length || 256;
}
