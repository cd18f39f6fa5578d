import type { Workload } from "../workload.ts";
import { groundedWorkload } from "./grounded.ts";
import { heavyWorkload } from "./heavy.ts";
import { largeQ4kWorkload, largeWorkload } from "./large.ts";
import { realVocabWorkload } from "./real-vocab.ts";
import { storyWorkload } from "./story.ts";

/** Every benchmark workload, in the order the report lists them. */
export const allWorkloads: Workload[] = [largeWorkload, largeQ4kWorkload, realVocabWorkload, heavyWorkload, storyWorkload, groundedWorkload];
