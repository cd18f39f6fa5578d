export function installedElectronVersion(root?: string): string;
export function electronAbi(version: string, moduleDir?: string): string;
export function electronSqlitePath(root: string, abi: string, platform: string, arch: string): string;
export function ensureElectronSqlite(options?: {
    root?: string;
    moduleDir?: string;
    electronVersion?: string;
    platform?: string;
    arch?: string;
    force?: boolean;
    downloadUrl?: string;
    buildFromSource?: boolean;
    env?: NodeJS.ProcessEnv;
}): Promise<string>;
