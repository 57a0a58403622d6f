import { describe, expect, it } from 'vitest';
import { latencyWindows } from '../../scripts/drill/report.js';

const FAULT = 10_000;
const req = (sentAt: number, ms: number, exito = true) => ({ sentAt, endAt: sentAt + ms, exito });

describe('drill latency windows', () => {
  it('"before the fault" counts only what was answered before it: a request caught by the failover is the recovery, not the steady state', () => {
    const attempts = [req(1_000, 30), req(2_000, 40), req(9_900, 1_300) /* in flight at the fault */, req(11_000, 25)];
    const { antes } = latencyWindows(attempts, FAULT, 500);
    expect(antes).toEqual({ n: 2, p50: 30, p99: 40, max: 40 });
  });

  it('"after recovery" starts 1 s after it and ends when the old side returns; failures never count', () => {
    const attempts = [req(10_600, 90) /* before recovery + 1 s */, req(11_600, 20), req(12_000, 30, false), req(13_000, 35), req(20_000, 50) /* after the return */];
    const { trasRecuperacion } = latencyWindows(attempts, FAULT, 500, 15_000);
    expect(trasRecuperacion).toEqual({ n: 2, p50: 20, p99: 35, max: 35 });
  });

  it('no recovery: nothing after it', () => {
    expect(latencyWindows([req(12_000, 10)], FAULT, null).trasRecuperacion).toEqual({ n: 0, p50: null, p99: null, max: null });
  });
});
