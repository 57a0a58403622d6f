/**
 * The GC's admission cap on calculations (GC_CALC_PER_ACTOR), with the real GC in-process
 * and a calculo actor played by the test over the GC's real PUB and backend sockets: it
 * beats, takes tasks and answers only when told. Past live actors × the bound a calculation
 * is refused SIN_ACTORES at once; the parts of requests that timed out keep their slots while
 * the actor still holds them; and a task past its deadline is not copied while its actor beats.
 */
import { describe, expect, it } from 'vitest';
import { Dealer, Subscriber } from 'zeromq';
import { freePorts } from '../harness/ports.js';
import { startGc } from '../../gestor_carga/gc.js';
import { GC_VARS, readConfig } from '../../common/config.js';
import { encode } from '../../common/protocol/ps-gc.js';
import { topicFor } from '../../common/protocol/internal.js';
import { tareaCalculoSchema, type TareaCalculo } from '../../common/protocol/calc.js';
import { MAX_BATCH_BYTES, parseBatch } from '../../common/protocol/frame.js';
import { evaluarSimple } from '../../common/calculo.js';
import { eventually } from '../harness/eventually.js';
import { stubStorage } from '../harness/stub-storage.js';
import { cleanupAfterEach, testLog as log } from '../harness/fixtures.js';

const defer = cleanupAfterEach();

/** A calculo actor that holds every task until `answerHeld()`, then (with `answerAtOnce`) answers as they come. */
async function heldActor(pub: string, backend: string, actorId: string) {
  const sub = new Subscriber({ linger: 0 });
  const dealer = new Dealer({ linger: 0 });
  sub.connect(pub);
  sub.subscribe(topicFor('calculo', actorId));
  dealer.connect(backend);
  const received: TareaCalculo[] = [];
  const held: TareaCalculo[] = [];
  let atOnce = false;
  const answer = (t: TareaCalculo) => {
    const c = t.calculo;
    const e = c.operacion === 'suma_cuadrados' ? { codigo: 'ERROR_INTERNO' as const, mensaje: 'no' } : evaluarSimple(c);
    const resultado = e.codigo === 'OK' ? { id: t.id, codigo: 'OK', valor: e.valor } : { id: t.id, codigo: e.codigo, mensaje: e.mensaje };
    return dealer.send(encode({ t: 'calculado', actorId, tipo: 'calculo', resultado }));
  };
  await dealer.send(encode({ t: 'hola', actorId, tipo: 'calculo', pid: process.pid }));
  const beat = setInterval(() => void dealer.send(encode({ t: 'latido', actorId, tipo: 'calculo', enCurso: held.length })).catch(() => undefined), 100);
  void (async () => {
    try {
      for await (const frames of sub) {
        for (const t of parseBatch(tareaCalculoSchema, frames[1], MAX_BATCH_BYTES).items) {
          received.push(t);
          if (atOnce) await answer(t);
          else held.push(t);
        }
      }
    } catch {
      // closed
    }
  })();
  defer(() => {
    clearInterval(beat);
    sub.close();
    dealer.close();
  });
  return {
    received,
    held,
    async answerHeld() {
      for (const t of held.splice(0)) await answer(t);
    },
    answerAtOnce() {
      atOnce = true;
    },
  };
}

describe('GC: admission of calculations', () => {
  it('past live actors × GC_CALC_PER_ACTOR: SIN_ACTORES at once; timed-out parts count until the actor answers them; no copies while it beats', async () => {
    const [f, p, b] = await freePorts(3);
    const ep = { front: `tcp://127.0.0.1:${f}`, pub: `tcp://127.0.0.1:${p}`, back: `tcp://127.0.0.1:${b}` };
    // The GC thinks actors beat every second (current while heard within 3 s); this one beats
    // every 100 ms, so no stall of this process makes it look frozen. The deadline is short:
    // the held tasks pass it many times over.
    const cfg = readConfig(GC_VARS, {
      GC_FRONTEND_BIND: ep.front,
      GC_PUB_BIND: ep.pub,
      GC_BACKEND_BIND: ep.back,
      ACTOR_HEARTBEAT_MS: '1000',
      ACTOR_DEAD_MS: '10000',
      GC_TASK_DEADLINE_MS: '200',
      GC_SYNC_TIMEOUT_MS: '3000',
      GC_CALC_PER_ACTOR: '2',
    });
    const g = await startGc(cfg, log, { storage: stubStorage() });
    defer(() => g.close());
    const actor = await heldActor(ep.pub, ep.back, 'lento');
    await eventually('the calculo actor live', () => g.status().calculo.actoresVivos === 1, 10_000);
    const ask = async (o: Record<string, unknown>) => (await g.request(Buffer.from(JSON.stringify(o)), 'zeromq')).respuesta;

    // Two tasks fill the one actor's two slots.
    const first = [ask({ operacion: 'suma', a: 1, b: 1, id: 'c1' }), ask({ operacion: 'eco', texto: 'hola', id: 'c2' })];
    await eventually('both tasks at the actor', () => actor.held.length === 2, 10_000);
    const third = await ask({ operacion: 'suma', a: 2, b: 2, id: 'c3' });
    expect(third).toMatchObject({ exito: false, codigo: 'SIN_ACTORES', id: 'c3' });
    expect(third.mensaje).toBe('Actores de cálculo ocupados: 2 tareas en curso en este gestor (máximo 2 por actor, 1 actor vivo); reintente en unos segundos');
    // A suma_cuadrados needs a slot per part: refused too, no part published.
    expect(await ask({ operacion: 'suma_cuadrados', n: 9 })).toMatchObject({ codigo: 'SIN_ACTORES' });

    // Nobody answers: both time out, but the actor still computes them, so they still count.
    for (const r of await Promise.all(first)) expect(r).toMatchObject({ exito: false, codigo: 'TIEMPO_AGOTADO' });
    expect(g.status().calculo.tareas).toEqual({ enviada: 0, 'en-cola': 0, abandonada: 2 });
    expect(await ask({ operacion: 'suma', a: 3, b: 3 })).toMatchObject({ codigo: 'SIN_ACTORES' });

    // The actor answers them: the slots are free again.
    await actor.answerHeld();
    await eventually('the abandoned tasks answered', () => g.status().calculo.tareas.abandonada === 0, 10_000);
    actor.answerAtOnce();
    expect(await ask({ operacion: 'suma', a: 2, b: 3, id: 'c5' })).toMatchObject({ exito: true, codigo: 'OK', id: 'c5', datos: { resultado: 5, actor: 'lento' } });

    // Held seconds past the 200 ms deadline, each task was published once: its actor kept beating.
    expect(actor.received.map((t) => [t.calculo.operacion, t.intento])).toEqual([['suma', 1], ['eco', 1], ['suma', 1]]);
    expect(g.status().calculo.tareas).toEqual({ enviada: 0, 'en-cola': 0, abandonada: 0 });
    expect(g.errorStats().porCodigo).toMatchObject({ SIN_ACTORES: 3, TIEMPO_AGOTADO: 2 });
  });
});
