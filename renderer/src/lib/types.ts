/** The app API's shapes, from the contract in server/app-api.ts (type-only: nothing of server/ is bundled). */
export type * from "../../../core/app-api.ts";
