import type { Command } from "./command.ts";

/** Every `presage` subcommand, in the order `presage --help` lists them. */
export const commands: Command[] = [];
