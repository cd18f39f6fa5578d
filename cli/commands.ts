import type { Command } from "./command.ts";
import { benchCommand } from "./bench.ts";
import { generateCommand } from "./generate.ts";
import { indexCommand } from "./index.ts";
import { modelsCommand } from "./models.ts";
import { ggufCommand } from "./gguf.ts";
import { serveCommand } from "./serve.ts";

/** Every `presage` subcommand, in the order `presage --help` lists them. */
export const commands: Command[] = [generateCommand, benchCommand, modelsCommand, ggufCommand, serveCommand, indexCommand];
