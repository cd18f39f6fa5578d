/** The package root. */
export const root: string;
/** The Electron executable if installed (never downloads), else null. */
export function electronBinary(env?: NodeJS.ProcessEnv): string | null;
/** Downloads Electron's binary if missing (silently); resolves to it, or null. */
export function ensureElectronBinary(env?: NodeJS.ProcessEnv): Promise<string | null>;
/** SQLite for Electron's ABI, the chat window's build and the main bundle. */
export function prepareDesktop(options?: { quiet?: boolean }): Promise<void>;
