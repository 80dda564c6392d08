/** Bench: twenty independent config-file steps, on the bench's per-host folder. */
import { defineRunbook } from '../../src/index.ts';
import { steps20 } from '../workloads.ts';
import { stepsOf } from './steps.ts';

export default defineRunbook({ name: 'bench-steps20', summary: 'bench: 20 config-file steps' }).steps(stepsOf(steps20));
