import type { Workload } from "../workload.ts";
import { groundedWorkload } from "./grounded.ts";
import { heavyWorkload } from "./heavy.ts";
import { largeWorkload } from "./large.ts";
import { storyWorkload } from "./story.ts";

/** Every benchmark workload, in the order the report lists them. */
export const allWorkloads: Workload[] = [largeWorkload, heavyWorkload, storyWorkload, groundedWorkload];
