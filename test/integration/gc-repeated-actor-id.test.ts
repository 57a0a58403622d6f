/**
 * Two real actors started with one ACTOR_ID (a copied .env) against the real GC: the GC
 * hears that id through two connections taking turns and says so — an error in its
 * log, `idRepetido` on the entry in /status, the gc_actor_ids_repeated gauge — while an
 * actor with its own id, and the same id once its twin has stopped, are not flagged.
 */
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { freePorts } from '../harness/ports.js';
import { startGc, type GcHandle } from '../../gestor_carga/gc.js';
import { startActor } from '../../actores/actor.js';
import { ACTOR_VARS, GC_VARS, readConfig } from '../../common/config.js';
import { eventually } from '../harness/eventually.js';
import { stubStorage } from '../harness/stub-storage.js';
import { RELAXED_GC_TIMING, cleanupAfterEach } from '../harness/fixtures.js';

const defer = cleanupAfterEach();

describe('GC: one actor id in two processes', () => {
  it('is reported while both run, and only that id', async () => {
    const lines: string[] = [];
    const log = pino({ level: 'warn' }, { write: (s: string) => void lines.push(s) });
    const [f, p, b] = await freePorts(3);
    const ep = { front: `tcp://127.0.0.1:${f}`, pub: `tcp://127.0.0.1:${p}`, back: `tcp://127.0.0.1:${b}` };
    const st = stubStorage();
    const g: GcHandle = await startGc(readConfig(GC_VARS, { ...RELAXED_GC_TIMING, GC_FRONTEND_BIND: ep.front, GC_PUB_BIND: ep.pub, GC_BACKEND_BIND: ep.back }), log, { storage: st });
    defer(() => g.close());
    const actorCfg = readConfig(ACTOR_VARS, { ...RELAXED_GC_TIMING, GC_PUB_ENDPOINT: ep.pub, GC_BACKEND_ENDPOINT: ep.back });
    const start = (id: string) => startActor({ ...actorCfg, ACTOR_TIPOS: ['prestamo'], ACTOR_ID: id }, log, { storage: st });
    const twin1 = await start('copiado');
    defer(() => twin1.kill());
    const other = await start('propio');
    defer(() => other.kill());
    await eventually('both ids live', () => g.status().actoresVivos.prestamo === 2, 10_000);
    const twin2 = await start('copiado');
    defer(() => twin2.kill());

    const entry = (id: string) => g.status().actores.find((a) => a.actorId === id);
    await eventually('the copied id reported', () => entry('copiado')?.idRepetido === true, 15_000);
    expect(entry('propio')?.idRepetido).toBeUndefined();
    const errors = lines.map((l) => JSON.parse(l) as { level: number; msg: string; actorId?: string }).filter((l) => l.msg.startsWith('two actor processes use the same ACTOR_ID'));
    expect(errors.map((e) => e.actorId)).toEqual(['copiado']);
    expect(errors[0]!.level).toBe(50);
    const gauge = async () => (await g.registry.getSingleMetric('gc_actor_ids_repeated')!.get()).values[0]?.value;
    await eventually('the gauge counts it', async () => (await gauge()) === 1, 10_000);

    // One twin gone: the other is an ordinary actor again once the window has passed.
    await twin2.kill();
    await eventually('the report clears', () => entry('copiado')?.vivo === true && entry('copiado')?.idRepetido === undefined, 30_000);
    await eventually('the gauge clears', async () => (await gauge()) === 0, 10_000);
  });
});
