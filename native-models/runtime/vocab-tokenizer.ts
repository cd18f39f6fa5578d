// Tokenization for the datastore's ingestion workers. The datastore does not import the engine:
// the app hands the workers this module's URL, and each worker imports it and calls `openTokenizer`
// (the contract is the datastore's `TokenizerModule`, datastore/ingest/worker-protocol.ts).
import { getRuntime } from "./llama-runtime.ts";
import { modelTokenizer, type ModelTokenizer } from "./tokenizer-identity.ts";

/**
 * Loads a GGUF's vocabulary only (no weights) on the CPU backend and returns its tokenizer.
 * Called once per worker thread.
 */
export async function openTokenizer(modelPath: string): Promise<ModelTokenizer> {
    const llama = await getRuntime({ backend: "cpu" });
    return modelTokenizer(await llama.loadModel({ modelPath, vocabOnly: true }));
}
