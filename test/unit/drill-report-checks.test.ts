/**
 * What a drill report may call OK (scripts/drill/checks.ts, report.ts), fed crafted runs:
 * a promised return rejected while its loan was out is lost; a refusal the ledger does not hold
 * fails the drill; with an async primary killed, only what the dead primary acknowledged may be
 * missing; recovery is the slowest client's; a sync drill run without sync replication in force
 * fails; a load that failed before the fault, or failures while a slow fault ran, fail the drill.
 * The text report prints a scenario's own figures as readable lines, not JSON.
 */
import { describe, expect, it } from 'vitest';
import { lostOps, refusalsNotInLedger, type LedgerRow } from '../../scripts/drill/checks.js';
import { buildReport, formatReport, recoveryTimes, type ReportInput } from '../../scripts/drill/report.js';
import type { Attempt } from '../../scripts/drill/load.js';

const FAULT = 10_000;
const ok = (opId: string, sentAt: number, ms = 20, cliente = 0): Attempt => ({ cliente, opId, operacion: 'prestamo', sentAt, endAt: sentAt + ms, outcome: 'reply', codigo: 'APROBADO', exito: true, gc: 'g' });
const fail = (opId: string, sentAt: number, ms = 2000, cliente = 0): Attempt => ({ cliente, opId, operacion: 'prestamo', sentAt, endAt: sentAt + ms, outcome: 'timeout' });
const steady = (from: number, to: number, cliente = 0) => Array.from({ length: (to - from) / 100 }, (_, k) => ok(`ok-${cliente}-${from + k * 100}`, from + k * 100, 20, cliente));
const cleanLedger = { lost: [], refusalMismatches: [], stillPending: 0, duplicated: 0, duplicatedDetail: [], invariantViolations: [] };
const row = (estado: string, actualizadaUs = 0, codigo: string | null = null): LedgerRow => ({ estado, codigo, actualizadaUs });

function input(o: {
  attempts: Attempt[];
  acknowledged?: Map<string, 'APROBADO' | 'ACEPTADO'>;
  rechazadas?: Map<string, { codigo: string; at: number }>;
  scenario?: Partial<ReportInput['scenario']>;
  fault?: Partial<ReportInput['fault']>;
  ledger?: ReportInput['ledger'];
  replicacion?: 'sync' | 'async';
  replicacionAlFallar?: string;
}): ReportInput {
  const watch = { firstActiveAfter: () => ({ ga: 'pc2', at: FAULT + 1000 }), statesSince: () => [], active: () => 'pc2', latest: new Map(), changes: [] };
  return {
    scenario: { name: 'x', descripcion: 'x', killsPgPrimary: false, takeover: false, ...o.scenario },
    options: { clients: 2, warmupMs: 10_000, afterFaultMs: 10_000, replicacion: o.replicacion ?? 'sync', isbns: [], prefix: 'p' },
    t0: 0,
    fault: { at: FAULT, killMs: 5, detalle: 'kill', ...o.fault },
    load: { attempts: o.attempts, acknowledged: o.acknowledged ?? new Map(), rechazadas: o.rechazadas ?? new Map(), abandoned: [] } as never,
    watch: watch as never,
    ledger: o.ledger ?? cleanLedger,
    primary: { host: 'pc2', splitBrain: false },
    pgStatus: [],
    replicacionAlFallar: o.replicacionAlFallar ?? o.replicacion ?? 'sync',
  } as ReportInput;
}
const verdict = (r: ReturnType<typeof buildReport>, nombre: string) => r.verificaciones.find((v) => v.nombre === nombre);

describe('drill checks', () => {
  it('an ACEPTADO return rejected while its loan was out is lost, even if another return took the loan back later; not when the loan was already returned, nor when it was never made', () => {
    const ack = new Map<string, 'APROBADO' | 'ACEPTADO'>([['p-0-0', 'APROBADO'], ['p-0-2', 'ACEPTADO'], ['p-1-2', 'ACEPTADO']]);
    const prestamoDe = new Map([['p-0-2', 'p-0-0'], ['p-1-2', 'p-1-0']]);
    // p-0-2 rejected at t=5,000 µs; p-1-0 was refused (no loan), so p-1-2's rejection is right.
    const ledger = new Map([['p-0-0', row('COMPLETADA', 1_000)], ['p-0-2', row('RECHAZADA', 5_000)], ['p-1-0', row('RECHAZADA', 1_000)], ['p-1-2', row('RECHAZADA', 5_000)]]);
    const lost = [{ id: 'p-0-2', codigo: 'ACEPTADO', estado: 'RECHAZADA' }];
    expect(lostOps(ack, ledger, prestamoDe, new Map([['p-0-0', { desdeUs: 1_000 }]]))).toEqual(lost);
    // Still out at the rejection, returned later (the load came back to the book and returned it again): lost all the same.
    expect(lostOps(ack, ledger, prestamoDe, new Map([['p-0-0', { desdeUs: 1_000, hastaUs: 9_000 }]]))).toEqual(lost);
    // Returned before the rejection (another devolución took it first), or in the same transaction: not lost.
    expect(lostOps(ack, ledger, prestamoDe, new Map([['p-0-0', { desdeUs: 1_000, hastaUs: 4_000 }]]))).toEqual([]);
    expect(lostOps(ack, ledger, prestamoDe, new Map([['p-0-0', { desdeUs: 1_000, hastaUs: 5_000 }]]))).toEqual([]);
    expect(lostOps(ack, new Map([...ledger, ['p-0-2', row('COMPLETADA', 5_000)]]), prestamoDe, new Map([['p-0-0', { desdeUs: 1_000, hastaUs: 5_000 }]]))).toEqual([]);
    expect(lostOps(new Map([['x', 'APROBADO']]), new Map(), undefined, undefined)).toEqual([{ id: 'x', codigo: 'APROBADO', estado: 'AUSENTE' }]);
  });

  it('a refusal the PS got must be the ledger row\'s: another code, another state or no row is a mismatch, and fails the drill', () => {
    const rechazadas = new Map([
      ['a', { codigo: 'SIN_EJEMPLARES', at: FAULT + 3000 }],
      ['b', { codigo: 'ID_REUTILIZADO', at: FAULT + 3000 }],
      ['c', { codigo: 'PRESTAMO_ACTIVO', at: FAULT + 3000 }],
      ['d', { codigo: 'LIMITE_RENOVACIONES', at: FAULT + 3000 }],
    ]);
    const ledger = new Map([['a', row('RECHAZADA', 0, 'SIN_EJEMPLARES')], ['b', row('COMPLETADA', 0, 'APROBADO')], ['d', row('COMPLETADA', 0, 'APROBADO')]]);
    const m = refusalsNotInLedger(rechazadas, ledger);
    expect(m.map((x) => `${x.id} ${x.ledger}`)).toEqual(['b COMPLETADA APROBADO', 'c AUSENTE', 'd COMPLETADA APROBADO']);
    const r = buildReport(input({ attempts: steady(0, 20_000), rechazadas, ledger: { ...cleanLedger, refusalMismatches: m } }));
    expect(verdict(r, 'toda respuesta de rechazo es la que guarda el ledger')?.ok).toBe(false);
    expect(r.ok).toBe(false);
    expect(verdict(buildReport(input({ attempts: steady(0, 20_000), rechazadas })), 'toda respuesta de rechazo es la que guarda el ledger')?.ok).toBe(true);
  });

  it('recovery is the slowest client\'s: three of six PS served again after 6.3 s is a 6.3-s recovery, not the 20 ms of the untouched ones; a client never served again means no recovery', () => {
    const attempts = [0, 1, 2, 3, 4, 5].flatMap((c) => (c < 3 ? steady(0, 20_000, c) : [...steady(0, FAULT, c), fail(`t-${c}`, FAULT + 100, 6_000, c), ...steady(FAULT + 6_300, 20_000, c)]));
    expect(recoveryTimes(attempts, FAULT)).toEqual({ slowest: 6_320, first: 20 });
    const r = buildReport(input({ scenario: { recuperacionMaxMs: 5000 }, attempts }));
    expect(r.recuperacionMs).toBe(6_320);
    expect(r.recuperacionPrimeraMs).toBe(20);
    expect(verdict(r, 'recuperación ≤ 5 s')?.ok).toBe(false);
    const stuck = [...steady(0, 20_000, 0), ...steady(0, FAULT, 1), fail('t-1', FAULT + 100, 9_000, 1)];
    expect(recoveryTimes(stuck, FAULT).slowest).toBeNull();
  });

  it('a sync drill with sync replication not in force at the fault fails: its "nothing lost" would say nothing about sync', () => {
    const attempts = steady(0, 20_000);
    const degraded = buildReport(input({ attempts, replicacion: 'sync', replicacionAlFallar: 'degraded-async' }));
    expect(verdict(degraded, 'la replicación síncrona está en vigor al fallar')?.ok).toBe(false);
    expect(degraded.ok).toBe(false);
    expect(buildReport(input({ attempts, replicacion: 'sync', replicacionAlFallar: 'sync' })).ok).toBe(true);
    expect(verdict(buildReport(input({ attempts, replicacion: 'async' })), 'la replicación síncrona está en vigor al fallar')).toBeUndefined();
  });

  it('async primary killed: a loss the dead primary acknowledged is information; one acknowledged after the takeover fails the drill', () => {
    const scenario = { name: 'pg-primario', killsPgPrimary: true, takeover: true };
    const attempts = steady(0, 20_000);
    const acknowledged = new Map(attempts.map((a) => [a.opId, 'APROBADO' as const]));
    const early = buildReport(input({ scenario, replicacion: 'async', attempts, acknowledged, ledger: { ...cleanLedger, lost: [{ id: 'ok-0-9900', codigo: 'APROBADO', estado: 'AUSENTE' }] } }));
    expect(early.ok).toBe(true);
    expect(verdict(early, 'ninguna operación reconocida se pierde')?.informativo).toBe(true);
    const late = buildReport(input({ scenario, replicacion: 'async', attempts, acknowledged, ledger: { ...cleanLedger, lost: [{ id: 'ok-0-19000', codigo: 'APROBADO', estado: 'AUSENTE' }] } }));
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

  it("the text report prints the scenario's own figures as indented lines, not JSON", () => {
    const datos = {
      respuestasPorGc: { antesDeLaFalla: { 'tcp://127.0.0.1:5555': 467, 'tcp://127.0.1.2:5555': 460 }, conElGcCaido: {}, trasVolver: { 'tcp://127.0.0.1:5555': 1369.5 } },
      dosActivosMs: null,
      congelado: 'pc1',
    };
    const r = buildReport({ ...input({ attempts: steady(0, 20_000) }), check: { verificaciones: [], datos } });
    const text = formatReport(r);
    expect(text).not.toContain('{"');
    const desde = text.split('\n').indexOf('  escenario:');
    expect(text.split('\n').slice(desde, desde + 10)).toEqual([
      '  escenario:',
      '    respuestas por GC:',
      '      antes de la falla:',
      '        tcp://127.0.0.1:5555: 467',
      '        tcp://127.0.1.2:5555: 460',
      '      con el GC caído: —',
      '      tras volver:',
      '        tcp://127.0.0.1:5555: 1369.5',
      '    dos activos (ms): —',
      '    congelado: pc1',
    ]);
  });
});
