/**
 * vitest globalSetup: the suite runs under the scheduling policy npm start gives the
 * system (common/scheduling.ts, PLANIFICADOR), so the processes the tests start — and
 * the test workers, forked after this — run as users run them. It also makes the suite
 * cheaper: on the 2-core CI host it took ~445 s under SCHED_BATCH against 636–692 s.
 */
import { adoptSchedulingPolicy } from '../../common/scheduling.js';

export default function setup(): void {
  adoptSchedulingPolicy((s) => process.stderr.write(s));
}
