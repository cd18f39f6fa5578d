import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { modelsDir, storiesModel } from "../native-models/models-dir.ts";
import { downloadModel, sha256File } from "../native-models/runtime/model-download.ts";
import { CliError, parseCommandArgs, printJson, UsageError, type Command } from "./command.ts";

const help = `presage models — the models folder

Usage:
  presage models list [--json]    GGUF files in the models folder (PRESAGE_MODELS_DIR, default ../shared/models)
  presage models pull [--json]    download stories260K.gguf (the test model) from Hugging Face and check its SHA-256
`;

export const modelsCommand: Command = {
    name: "models",
    summary: "list the models folder, or pull the test model",
    help,
    async run(argv) {
        const [sub, ...rest] = argv;
        const { values } = parseCommandArgs(rest, {});
        const dir = modelsDir();
        if (sub === "list") {
            const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith(".gguf")).sort();
            const files = await Promise.all(names.map(async (name) => ({ name, path: join(dir, name), size: (await stat(join(dir, name))).size })));
            if (values.json) printJson({ dir, files });
            else process.stdout.write(files.length ? files.map((f) => `${f.name}\t${(f.size / 2 ** 20).toFixed(1)} MiB`).join("\n") + "\n" : `no .gguf files in ${dir}\n`);
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
