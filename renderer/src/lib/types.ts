/** The app API's shapes, from the contract in server/app-api.ts (type-only: nothing of server/ is bundled). */
export type * from "../../../server/app-api.ts";
