/** Builds electron/dist (the bundled preload and the main-process loader); resolves to its folder. */
export function buildElectron(): Promise<string>;
