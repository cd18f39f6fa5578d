// Entry point of ingestion workers. Worker threads do not inherit the parent's TypeScript loader,
// so when the worker module is TypeScript (running from source under tsx or vitest) this registers
// tsx inside the worker first; a compiled build points it at plain JavaScript and skips that.
import { workerData } from "node:worker_threads";

const { entry } = workerData;
if (entry.endsWith(".ts")) (await import("tsx/esm/api")).register();
await import(entry);
