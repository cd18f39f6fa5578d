import { readdirSync, readFileSync } from "node:fs";
import { engineProcessTitle } from "../engine-process/protocol.ts";

/** A running engine process as the operating system lists it. */
export interface EngineProcessEntry {
    pid: number;
    /** The process that started it (the app). */
    ppid: number;
}

/**
 * The engine processes below `ancestor` (its children, their children, …), found the way an operator
 * would: by the process title `presage-engine` in /proc (Linux only).
 */
export function engineProcessesUnder(ancestor: number): EngineProcessEntry[] {
    const parents = new Map<number, number>();
    for (const name of readdirSync("/proc")) {
        if (!/^\d+$/.test(name)) continue;
        try {
            const stat = readFileSync(`/proc/${name}/stat`, "utf8");
            // "pid (comm) state ppid …": the command may hold spaces and parentheses.
            const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
            parents.set(Number(name), ppid);
        } catch {
            // It ended while we looked.
        }
    }
    const under = (pid: number): boolean => {
        for (let at = parents.get(pid); at != null && at > 1; at = parents.get(at)) if (at === ancestor) return true;
        return false;
    };
    const out: EngineProcessEntry[] = [];
    for (const [pid, ppid] of parents) {
        if (!under(pid)) continue;
        let cmdline = "";
        try {
            cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8");
        } catch {
            continue;
        }
        // A zombie (killed, not yet reaped) has an empty command line: it is no longer running.
        if (cmdline.split("\0")[0]!.trim() === engineProcessTitle) out.push({ pid, ppid });
    }
    return out;
}
