/**
 * What a drill report may call OK (scripts/drill/checks.ts, report.ts), fed crafted runs:
 * a promised return that ends rejected is lost; with an async primary killed, only what the
 * dead primary acknowledged may be missing; a load that failed before the fault, or failures
 * while a slow fault ran, fail the drill.
 */
import { describe, expect, it } from 'vitest';
import { lostOps } from '../../scripts/drill/checks.js';
import { buildReport, type ReportInput } from '../../scripts/drill/report.js';
import type { Attempt } from '../../scripts/drill/load.js';

const FAULT = 10_000;
const ok = (opId: string, sentAt: number, ms = 20): Attempt => ({ opId, operacion: 'prestamo', sentAt, endAt: sentAt + ms, outcome: 'reply', codigo: 'APROBADO', exito: true, gc: 'g' });
const fail = (opId: string, sentAt: number, ms = 2000): Attempt => ({ opId, operacion: 'prestamo', sentAt, endAt: sentAt + ms, outcome: 'timeout' });
const steady = (from: number, to: number) => Array.from({ length: (to - from) / 100 }, (_, k) => ok(`ok-${from + k * 100}`, from + k * 100));
const cleanLedger = { lost: [], stillPending: 0, duplicated: 0, duplicatedDetail: [], invariantViolations: [] };

function input(o: { attempts: Attempt[]; acknowledged?: Map<string, 'APROBADO' | 'ACEPTADO'>; scenario?: Partial<ReportInput['scenario']>; fault?: Partial<ReportInput['fault']>; ledger?: ReportInput['ledger']; replicacion?: 'sync' | 'async' }): ReportInput {
  const watch = { firstActiveAfter: () => ({ ga: 'pc2', at: FAULT + 1000 }), statesSince: () => [], active: () => 'pc2', latest: new Map(), changes: [] };
  return {
    scenario: { name: 'x', descripcion: 'x', killsPgPrimary: false, takeover: false, ...o.scenario },
    options: { clients: 2, warmupMs: 10_000, afterFaultMs: 10_000, replicacion: o.replicacion ?? 'sync', isbns: [], prefix: 'p' },
    t0: 0,
    fault: { at: FAULT, killMs: 5, detalle: 'kill', ...o.fault },
    load: { attempts: o.attempts, acknowledged: o.acknowledged ?? new Map(), abandoned: [] } as never,
    watch: watch as never,
    ledger: o.ledger ?? cleanLedger,
    primary: { host: 'pc2', splitBrain: false },
    pgStatus: [],
  } as ReportInput;
}
const verdict = (r: ReturnType<typeof buildReport>, nombre: string) => r.verificaciones.find((v) => v.nombre === nombre);

describe('drill checks', () => {
  it('an ACEPTADO return ending RECHAZADA is lost when its loan was APROBADO, applied and is still out; not when another return took the book back, nor when the loan was never made', () => {
    const ack = new Map<string, 'APROBADO' | 'ACEPTADO'>([['p-0-0', 'APROBADO'], ['p-0-2', 'ACEPTADO'], ['p-1-2', 'ACEPTADO']]);
    const prestamoDe = new Map([['p-0-2', 'p-0-0'], ['p-1-2', 'p-1-0']]);
    const estado = new Map([['p-0-0', 'COMPLETADA'], ['p-0-2', 'RECHAZADA'], ['p-1-0', 'RECHAZADA'], ['p-1-2', 'RECHAZADA']]);
    expect(lostOps(ack, estado, prestamoDe, new Map([['p-0-0', 'ACTIVO']]))).toEqual([{ id: 'p-0-2', codigo: 'ACEPTADO', estado: 'RECHAZADA' }]);
    expect(lostOps(ack, estado, prestamoDe, new Map([['p-0-0', 'DEVUELTO']]))).toEqual([]);
    expect(lostOps(ack, new Map([...estado, ['p-0-2', 'COMPLETADA']]), prestamoDe, new Map([['p-0-0', 'DEVUELTO']]))).toEqual([]);
  });

  it('async primary killed: a loss the dead primary acknowledged is information; one acknowledged after the takeover fails the drill', () => {
    const scenario = { name: 'pg-primario', killsPgPrimary: true, takeover: true };
    const attempts = steady(0, 20_000);
    const acknowledged = new Map(attempts.map((a) => [a.opId, 'APROBADO' as const]));
    const early = buildReport(input({ scenario, replicacion: 'async', attempts, acknowledged, ledger: { ...cleanLedger, lost: [{ id: 'ok-9900', codigo: 'APROBADO', estado: 'AUSENTE' }] } }));
    expect(early.ok).toBe(true);
    expect(verdict(early, 'ninguna operación reconocida se pierde')?.informativo).toBe(true);
    const late = buildReport(input({ scenario, replicacion: 'async', attempts, acknowledged, ledger: { ...cleanLedger, lost: [{ id: 'ok-19000', codigo: 'APROBADO', estado: 'AUSENTE' }] } }));
    expect(late.ok).toBe(false);
    expect(verdict(late, 'ninguna operación reconocida tras la falla se pierde')?.ok).toBe(false);
  });

  it('a load that failed before the fault fails the drill, even if the system then recovers', () => {
    const before = Array.from({ length: 40 }, (_, k) => fail(`f-${k}`, k * 200));
    const r = buildReport(input({ attempts: [...before, ...steady(FAULT + 100, 20_000)] }));
    expect(r.solicitudes.fallidasAntesDeLaFalla).toBe(40);
    expect(verdict(r, 'la carga funciona antes de la falla')?.ok).toBe(false);
    expect(r.ok).toBe(false);
    expect(buildReport(input({ attempts: steady(0, 20_000) })).ok).toBe(true);
  });

  it('failures while a slow fault ran (a docker stop of 8 s) count as failures after the fault', () => {
    const during = [fail('d-1', 3_000), fail('d-2', 5_000), fail('d-3', 7_500)];
    const r = buildReport(input({ scenario: { name: 'actores', sinFallos: true }, fault: { killMs: 8_000 }, attempts: [...steady(0, 1_800), ...during, ...steady(FAULT, 20_000)] }));
    expect(verdict(r, 'ninguna solicitud falla')?.ok).toBe(false);
    expect(r.solicitudes.fallidas).toBe(3);
  });
});
