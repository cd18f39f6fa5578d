import { readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { builtinModelPath, modelsDir, storiesModel } from "../native-models/models-dir.ts";
import { downloadModel, downloadStallTimeoutMs, sha256File } from "../native-models/runtime/model-download.ts";
import { CliError, parseCommandArgs, printJson, UsageError, type Command } from "./command.ts";

const help = `presage models — the models folder

Usage:
  presage models list [--dir DIR] [--json]   GGUF files in the models folder, and the built-in demo model
  presage models pull [--dir DIR] [--json]   download stories260K.gguf from Hugging Face into the folder
                                             and check its SHA-256 (the app already ships it built in)

The models folder is --dir, else PRESAGE_MODELS_DIR, else "models" in the app's data folder.
Downloads give up after ${downloadStallTimeoutMs / 1000} s without data (the partial file is kept and resumes);
hf: URIs are fetched from HF_ENDPOINT when it is set.
`;

export const modelsCommand: Command = {
    name: "models",
    summary: "list the models folder, or pull the test model",
    help,
    async run(argv) {
        const [sub, ...rest] = argv;
        const { values } = parseCommandArgs(rest, { dir: { type: "string" } });
        const dir = values.dir != null ? resolve(values.dir) : modelsDir();
        if (sub === "list") {
            const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith(".gguf")).sort();
            const files = await Promise.all(names.map(async (name) => ({ name, path: join(dir, name), size: (await stat(join(dir, name))).size })));
            const builtin = await stat(builtinModelPath).then((s) => ({ name: storiesModel.fileName, path: builtinModelPath, size: s.size }), () => null);
            if (values.json) printJson({ dir, files, builtin });
            else {
                const lines = files.map((f) => `${f.name}\t${(f.size / 2 ** 20).toFixed(1)} MiB`);
                if (lines.length === 0) lines.push(`no .gguf files in ${dir}`);
                if (builtin != null) lines.push(`${builtin.name}\t${(builtin.size / 2 ** 20).toFixed(1)} MiB\t(built in)`);
                process.stdout.write(lines.join("\n") + "\n");
            }
            return 0;
        }
        if (sub === "pull") {
            const path = join(dir, storiesModel.fileName);
            const existing = await stat(path).catch(() => null);
            if (existing != null) {
                if ((await sha256File(path)) !== storiesModel.sha256)
                    throw new CliError(`${path} exists but its SHA-256 is not stories260K's: move it away and pull again.`);
                if (values.json) printJson({ path, sha256: storiesModel.sha256, downloaded: false });
                else process.stdout.write(`${path} is already here and checks out\n`);
                return 0;
            }
            try {
                await downloadModel({
                    uri: storiesModel.uri, dir, fileName: storiesModel.fileName, sha256: storiesModel.sha256,
                    onProgress: (done, total) => process.stderr.write(`\r${(done / 2 ** 20).toFixed(1)} / ${(total / 2 ** 20).toFixed(1)} MiB`)
                });
            } catch (err) {
                throw new CliError(`Could not download ${storiesModel.uri} into ${dir}: ${(err as Error).message.split("\n")[0]}`);
            }
            process.stderr.write("\n");
            if (values.json) printJson({ path, sha256: storiesModel.sha256, downloaded: true });
            else process.stdout.write(`${path}\n`);
            return 0;
        }
        throw new UsageError(sub == null ? "say list or pull" : `unknown subcommand "${sub}" (list or pull)`);
    }
};
