/** The container drills' check of the deployment's scheduling classes (scripts/contenedores/sistema.ts). */
import { describe, expect, it } from 'vitest';
import { schedulingProblem, type ClaseProceso } from '../../scripts/contenedores/sistema.js';

const row = (container: string, command: string, cls: string): ClaseProceso => ({ container, command, cls });

describe('schedulingProblem', () => {
  it('passes when every node and postgres process runs under the policy asked for', () => {
    expect(schedulingProblem([row('pc1-gc', 'node', 'B'), row('pc1-postgres', 'postgres', 'B')], 'batch')).toBeUndefined();
    expect(schedulingProblem([row('pc1-gc', 'node', 'TS')], 'normal')).toBeUndefined();
  });

  it('names every process under another class', () => {
    expect(schedulingProblem([row('pc1-gc', 'node', 'B'), row('pc2-postgres', 'postgres', 'TS'), row('pc3-actor-prestamo', 'node', 'TS')], 'batch')).toBe(
      'not under SCHED_BATCH: pc2-postgres postgres (TS), pc3-actor-prestamo node (TS)',
    );
    expect(schedulingProblem([row('pc1-ga', 'node', 'B')], 'normal')).toBe('not under SCHED_OTHER: pc1-ga node (B)');
  });

  it('fails when it found nothing to check', () => {
    expect(schedulingProblem([], 'batch')).toBe('no node or postgres process found in the containers');
  });
});
