#!/usr/bin/env node
// The CLI runs the TypeScript sources directly through tsx, so `npx presage` works right after `npm ci`
// with no build step and no Electron.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../cli/main.ts");
const code = await main(process.argv.slice(2));
// Exit once stdout is flushed: a cancelled download or a native handle must not keep a finished
// command alive.
process.stdout.write("", () => process.exit(code));
