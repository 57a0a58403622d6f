/**
 * Calculations end to end through real processes: PS → GC → three `calculo` actors (each
 * its own process) over real ZeroMQ sockets; the GC's usual GA and PostgreSQL run too,
 * untouched by calculations. Actors are frozen (SIGSTOP) and killed (SIGKILL) to show a
 * suma_cuadrados part reassigned when its actor misses the deadline or dies mid-run.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Respuesta } from '../../common/protocol/ps-gc.js';
import { MAX_N_SUMA_CUADRADOS } from '../../common/protocol/calc.js';
import type { ManagedProcess } from '../../scripts/launcher/child-process.js';
import { projectRoot } from '../../common/project-root.js';
import type { GcStatus } from '../../gestor_carga/gc.js';
import { startTestSystem, type TestSystem } from '../harness/system.js';
import type { NuevaPeticion } from '../../solicitante/types.js';
import { eventually } from '../harness/eventually.js';

const run = promisify(execFile);
// Long enough that, on a loaded host, the killed actor's part is still out when it dies (the
// others' parts done and seen first); well inside ACTOR_DEAD_MS (below).
const DEADLINE_MS = 3000;

let sys: TestSystem;
const frozen = new Set<number>();

beforeAll(async () => {
  // Deadline well inside the silence that declares an actor dead: a frozen actor still
  // counts as live when its part's deadline passes, so that path is the one exercised.
  sys = await startTestSystem([{ isbn: '978-0-00-000001-1', ejemplares: 1 }], {
    actorsPerType: 0,
    calcActors: 3,
    env: { GC_TASK_DEADLINE_MS: String(DEADLINE_MS), ACTOR_DEAD_MS: '8000', ACTOR_HEARTBEAT_MS: '250' },
  });
});

afterAll(async () => {
  // A frozen process would ignore SIGTERM until continued.
  for (const pid of frozen) {
    try {
      process.kill(pid, 'SIGCONT');
    } catch {
      // already gone
    }
  }
  await sys?.stop();
});

const calcActors = (): ManagedProcess[] => sys.actors.filter((a) => a.running && a.spec.name.startsWith('calculo-'));
// Any object: some requests are wrong on purpose.
const send = (s: Record<string, unknown>): Promise<Respuesta> => sys.client().send(s as unknown as NuevaPeticion);

function freeze(a: ManagedProcess): void {
  process.kill(a.pid!, 'SIGSTOP');
  frozen.add(a.pid!);
}

/** The GC's count of calculation re-publications for one reason. */
async function republications(motivo: string): Promise<number> {
  const text = await (await fetch(`${sys.gcHttp}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('gc_republications_total{') && l.includes(`motivo="${motivo}"`) && l.includes('tipo="calculo"'));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

/** Exact Σ i² for 1..n, written out here rather than taken from the code under test. */
const exact = (n: number) => ((BigInt(n) * BigInt(n + 1) * BigInt(2 * n + 1)) / 6n).toString();

describe('simple calculations', () => {
  it('each operation answers with its result and the actor that computed it; round-robin over the live actors', async () => {
    const sumas = await Promise.all([0, 1, 2].map(async (i) => send({ operacion: 'suma', a: 10, b: 5, id: `s${i}` })));
    for (const [i, r] of sumas.entries()) expect(r).toMatchObject({ exito: true, codigo: 'OK', id: `s${i}`, datos: { operacion: 'suma', resultado: 15 } });
    expect(new Set(sumas.map((r) => r.datos.actor))).toEqual(new Set(['calculo-1', 'calculo-2', 'calculo-3']));

    expect((await send({ operacion: 'resta', a: 10, b: 5 })).datos.resultado).toBe(5);
    expect((await send({ operacion: 'multiplicacion', a: -4, b: 2.5 })).datos.resultado).toBe(-10);
    expect((await send({ operacion: 'division', a: 10, b: 4 })).datos.resultado).toBe(2.5);
    expect((await send({ operacion: 'eco', texto: 'Hola, ñandú' })).datos.resultado).toBe('Hola, ñandú');
    expect((await send({ operacion: 'Mayúsculas', texto: 'árbol y straße' })).datos.resultado).toBe('ÁRBOL Y STRASSE');
    expect((await send({ operacion: 'sumar_lista', numeros: [1, 2, 3.5, -0.5] })).datos.resultado).toBe(6);
  });

  it('errors: division by zero has its own code; bad input is refused by the GC; an unrepresentable result is FUERA_DE_RANGO', async () => {
    const cero = await send({ operacion: 'division', a: 1, b: 0, id: 'div0' });
    expect(cero).toMatchObject({ exito: false, codigo: 'DIVISION_POR_CERO', id: 'div0' });
    expect(cero.mensaje).toMatch(/cero/i);
    expect(await send({ operacion: 'multiplicacion', a: 1e308, b: 10 })).toMatchObject({ exito: false, codigo: 'FUERA_DE_RANGO' });
    for (const bad of [
      { operacion: 'suma', a: 1 },
      { operacion: 'suma', a: '1', b: 2 },
      { operacion: 'resta', a: 1, b: 2, isbn: '978-1' },
      { operacion: 'eco', texto: 'a\u0007b' },
      { operacion: 'sumar_lista', numeros: [1, null] },
      { operacion: 'suma_cuadrados', n: 0 },
      { operacion: 'suma_cuadrados', n: MAX_N_SUMA_CUADRADOS + 1 },
    ]) {
      expect(await send({ ...bad, id: 'mal' }), JSON.stringify(bad)).toMatchObject({ exito: false, codigo: 'SOLICITUD_INVALIDA', id: 'mal' });
    }
    const unknown = await send({ operacion: 'raiz_cuadrada' });
    expect(unknown).toMatchObject({ codigo: 'OPERACION_DESCONOCIDA' });
    expect(unknown.mensaje).toMatch(/suma_cuadrados/);
    // Nothing of this reached an actor's error path: all three still live.
    const st = (await sys.gc.status<GcStatus>())!;
    expect(st.calculo.actoresVivos).toBe(3);
  });

  it('npm run ps -- calc …: the PS command prints the result, exit 1 on an error reply, 2 on bad arguments', async () => {
    const ps = (...args: string[]) =>
      run(process.execPath, [join(projectRoot(), 'dist', 'solicitante', 'main.js'), '--gc', sys.gcEndpoint, 'calc', ...args], { timeout: 20_000 }).then(
        (r) => ({ code: 0, out: r.stdout, err: r.stderr }),
        (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout, err: e.stderr }),
      );
    const suma = await ps('suma', '10', '5');
    expect(suma.code).toBe(0);
    expect(suma.out).toMatch(/^SUMA 10 5 → OK "Cálculo hecho" resultado 15 \(calculo-\d\) \[id \S+\]$/m);
    const resta = await ps('resta', '10', '-5');
    expect(resta.out).toMatch(/resultado 15 /);
    const div = await ps('division', '1', '0');
    expect(div.code).toBe(1);
    expect(div.out).toMatch(/DIVISION_POR_CERO/);
    const sc = await ps('suma_cuadrados', '9');
    expect(sc.code).toBe(0);
    expect(sc.out).toMatch(/Suma de los cuadrados de 1 a 9: 285/);
    expect(sc.out.match(/^ {2}parte \d+\.\.\d+: \d+ \(calculo-\d\)$/gm)).toHaveLength(3);
    const usage = await ps('suma', 'diez', '5');
    expect(usage.code).toBe(2);
    expect(usage.err).toMatch(/'diez' no es un número/);
  });
});

describe('suma_cuadrados: scatter/gather over the live calculo actors', () => {
  it('splits 1..n into one part per actor and returns the exact sum, also beyond 2^53', async () => {
    const r = await send({ operacion: 'suma_cuadrados', n: 9 });
    expect(r).toMatchObject({ exito: true, codigo: 'OK', datos: { n: 9, resultado: '285', actores: 3 } });
    const partes = r.datos.partes as Array<{ a: number; b: number; resultado: string; actor: string }>;
    expect(partes.map((p) => [p.a, p.b, p.resultado])).toEqual([[1, 3, '14'], [4, 6, '77'], [7, 9, '194']]);
    expect(new Set(partes.map((p) => p.actor)).size).toBe(3);

    const big = await send({ operacion: 'suma_cuadrados', n: MAX_N_SUMA_CUADRADOS });
    expect(big.datos.resultado).toBe(exact(MAX_N_SUMA_CUADRADOS));
    expect(BigInt(big.datos.resultado as string) > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);

    // Fewer numbers than actors: no empty part.
    const two = await send({ operacion: 'suma_cuadrados', n: 2 });
    expect(two.datos).toMatchObject({ resultado: '5', actores: 2 });
  });

  it('a part whose actor misses its deadline (frozen) is reassigned to another live actor', async () => {
    const [victim] = calcActors();
    const before = await republications('plazo');
    freeze(victim!);
    const t0 = Date.now();
    const r = await send({ operacion: 'suma_cuadrados', n: 3_000_000 });
    expect(Date.now() - t0).toBeGreaterThanOrEqual(DEADLINE_MS - 100);
    expect(r).toMatchObject({ exito: true, codigo: 'OK', datos: { resultado: exact(3_000_000) } });
    const partes = r.datos.partes as Array<{ actor: string; intentos: number; reasignadaDesde?: string[] }>;
    const moved = partes.filter((p) => p.reasignadaDesde?.includes(victim!.spec.name));
    expect(moved).toHaveLength(1);
    expect(moved[0]!.actor).not.toBe(victim!.spec.name);
    expect(moved[0]!.intentos).toBe(2);
    expect(partes.every((p) => p.actor !== victim!.spec.name)).toBe(true);
    expect(await republications('plazo')).toBeGreaterThan(before);

    process.kill(victim!.pid!, 'SIGCONT');
    frozen.delete(victim!.pid!);
    await eventually('the thawed actor live again', async () => (await sys.gc.status<GcStatus>())?.calculo.actoresVivos === 3, 10_000);
  });

  it('an actor killed mid-run: its part goes to another live actor at once, and the result is exact', async () => {
    const victim = calcActors()[1]!;
    const before = await republications('actor-muerto');
    // Frozen first, so its part is certainly still out when it dies.
    freeze(victim);
    const reply = send({ operacion: 'suma_cuadrados', n: 3_000_001 });
    await eventually('the parts of the others done, the victim\'s out', async () => (await sys.gc.status<GcStatus>())?.calculo.tareas.enviada === 1, 5000);
    const killedAt = Date.now();
    await victim.kill();
    frozen.delete(victim.pid!);
    const r = await reply;
    // Moved on the actor's death (its unsubscription), not at the deadline.
    expect(Date.now() - killedAt).toBeLessThan(DEADLINE_MS);
    expect(r).toMatchObject({ exito: true, codigo: 'OK', datos: { n: 3_000_001, resultado: exact(3_000_001), actores: 2 } });
    const partes = r.datos.partes as Array<{ a: number; b: number; actor: string; reasignadaDesde?: string[] }>;
    expect(partes).toHaveLength(3);
    const moved = partes.filter((p) => p.reasignadaDesde?.includes(victim.spec.name));
    expect(moved).toHaveLength(1);
    expect(calcActors().map((a) => a.spec.name)).toContain(moved[0]!.actor);
    expect(await republications('actor-muerto')).toBe(before + 1);
  });

  it('with no calculo actor live: SIN_ACTORES, "ningún worker disponible", at once; back when an actor is', async () => {
    for (const a of calcActors()) await a.kill();
    await sys.waitForCalcActors(0);
    for (const s of [{ operacion: 'suma_cuadrados', n: 100 }, { operacion: 'suma', a: 1, b: 2 }]) {
      const t0 = Date.now();
      const r = await send(s);
      expect(r).toMatchObject({ exito: false, codigo: 'SIN_ACTORES' });
      expect(r.mensaje).toMatch(/ningún worker disponible/i);
      expect(Date.now() - t0).toBeLessThan(1000);
    }
    await sys.addActor('calculo');
    await sys.waitForCalcActors(1);
    expect(await send({ operacion: 'suma_cuadrados', n: 100 })).toMatchObject({ exito: true, datos: { resultado: exact(100), actores: 1 } });
  });
});
