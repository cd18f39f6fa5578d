import type { PresageBridge } from "../../../core/api-contract.ts";

/**
 * What the Electron preload exposes as `window.presage`: defined once, with the contract
 * (core/api-contract.ts), built by electron/bridge.ts.
 */
export type { PresageBridge };

declare global {
    interface Window {
        presage?: PresageBridge;
    }
}
