import { z } from "zod";

// The contract's schemas (core/api-contract.ts) are bundled into the window and the preload too.
// Building an object schema, zod probes `new Function` for its compiled fast path, and the window's
// CSP (no 'unsafe-eval') reports the probe as a violation even though zod catches the refusal.
// Request bodies are small: the interpreted parser costs nothing that shows. Imported before any
// schema is built.
z.config({ jitless: true });
