/** Bench: the leap-second fix in four steps (marker lookup, ntpd stopped, clock reset, marker), on simulated tools. */
import { defineRunbook } from '../../src/index.ts';
import { leap4 } from '../workloads.ts';
import { stepsOf } from './steps.ts';

export default defineRunbook({ name: 'bench-leap4', summary: 'bench: 4-step leap-second fix on simulated service/date' }).steps(stepsOf(leap4));
