import { CliError, UsageError, type Command } from "./command.ts";
import { commands } from "./commands.ts";

const topHelp = () => `presage — lossless speculative decoding for local LLMs

Usage: presage <command> [options]

Commands:
${commands.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`).join("\n")}

Run "presage <command> --help" for a command's options.`;

/** Runs the CLI and returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
    const [name, ...rest] = argv;
    if (name == null || name === "--help" || name === "-h" || name === "help") {
        process.stdout.write(topHelp() + "\n");
        return name == null ? 2 : 0;
    }
    const command: Command | undefined = commands.find((c) => c.name === name);
    if (command == null) {
        process.stderr.write(`presage: unknown command "${name}" (run "presage --help" for the list)\n`);
        return 2;
    }
    if (rest.includes("--help") || rest.includes("-h")) {
        process.stdout.write(command.help.trimEnd() + "\n");
        return 0;
    }
    try {
        return await command.run(rest);
    } catch (err) {
        if (err instanceof UsageError) {
            process.stderr.write(`presage ${name}: ${err.message} (run "presage ${name} --help")\n`);
            return 2;
        }
        const message = err instanceof Error ? err.message : String(err);
        process.stderr.write(`presage ${name}: ${message.split("\n")[0]}\n`);
        if (!(err instanceof CliError) && process.env.PRESAGE_DEBUG) process.stderr.write(String((err as Error).stack) + "\n");
        return 1;
    }
}
