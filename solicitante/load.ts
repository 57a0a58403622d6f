/**
 * Load generator: N closed-loop clients (each waits for its reply before
 * sending the next) for a fixed duration, latency per operation recorded in
 * HDR histograms. Library function: the CLI, the benchmark and tests call it
 * in-process; it prints nothing (progress goes to a callback).
 */
import { randomBytes } from 'node:crypto';
import { OPERACIONES_ACTOR, type OperacionActor } from '../common/protocol.js';
import { isSuccessCode } from '../common/codes.js';
import { GcClienteCerradoError } from './errors.js';
import { GcClient } from './gc-client.js';
import { GcPipelineClient } from './gc-pipeline.js';
import { idGenerator } from './ids.js';
import { LatencyRecorder, round2, type ResumenLatencias } from './latency.js';
import { ISBN_PRUEBA } from './test-sistema.js';
import type { GcCaller } from './types.js';

export type Carga = { tipo: 'secuencia' } | { tipo: 'mezcla'; pesos: Partial<Record<OperacionActor, number>> };

export interface LoadOptions {
  /** GC endpoint; ignored when `gc` is given. */
  endpoint?: string;
  /** A client shared by all simulated clients; it must allow concurrent calls. Not closed by runLoad. */
  gc?: GcCaller;
  clientes: number;
  duracionS: number;
  /** Default: the sequence préstamo → renovación → devolución. */
  carga?: Carga;
  /** Books to use; client i works on isbns[i % n]. Default the demo ISBN. */
  isbns?: string[];
  timeoutMs?: number;
  retries?: number;
  sede?: string;
  /** 'dealer': one pipelined socket for all clients (default); 'req': one REQ socket per client, like N separate PS. */
  transporte?: 'dealer' | 'req';
  /** Prefix of the generated usuarios; default unique per run so runs don't collide. */
  prefijoUsuario?: string;
  onProgreso?: (p: Progreso) => void;
  intervaloProgresoMs?: number;
}

export interface Progreso {
  transcurridoMs: number;
  respuestas: number;
  /** Replies per second over the last interval. */
  opsPorSegundo: number;
  sinRespuesta: number;
  /** Replies with a non-success code. */
  rechazadas: number;
}

export interface LoadReport extends ResumenLatencias {
  inicio: string;
  fin: string;
  duracionMs: number;
  config: {
    clientes: number;
    duracionS: number;
    carga: Carga;
    isbns: string[];
    transporte: 'dealer' | 'req';
    endpoint?: string;
    prefijoUsuario: string;
  };
}

export const MEZCLA_POR_DEFECTO: Record<OperacionActor, number> = { prestamo: 50, devolucion: 25, renovacion: 25 };

/** "prestamo=50,devolucion=25,renovacion=25" → weights; throws with a Spanish message when malformed. */
export function parseMezcla(texto: string): Record<OperacionActor, number> {
  const pesos: Record<OperacionActor, number> = { prestamo: 0, devolucion: 0, renovacion: 0 };
  for (const parte of texto.split(',').map((x) => x.trim()).filter(Boolean)) {
    const [k = '', v = ''] = parte.split('=').map((x) => x.trim());
    const op = OPERACIONES_ACTOR.find((o) => o === k.toLowerCase() || o.slice(0, 4) === k.toLowerCase());
    const n = Number(v);
    if (!op || !Number.isFinite(n) || n < 0) throw new Error(`Mezcla no válida '${parte}' (use p.ej. prestamo=50,devolucion=25,renovacion=25)`);
    pesos[op] = n;
  }
  if (Object.values(pesos).every((n) => n === 0)) throw new Error('La mezcla debe tener algún peso mayor que 0');
  return pesos;
}

function elegir(pesos: Partial<Record<OperacionActor, number>>): OperacionActor {
  const entradas = OPERACIONES_ACTOR.map((o) => [o, pesos[o] ?? 0] as const);
  const total = entradas.reduce((a, [, n]) => a + n, 0);
  let x = Math.random() * total;
  for (const [o, n] of entradas) {
    if ((x -= n) < 0) return o;
  }
  return entradas[entradas.length - 1]![0];
}

export async function runLoad(opts: LoadOptions): Promise<LoadReport> {
  if (!opts.gc && !opts.endpoint) throw new Error('runLoad: hace falta endpoint o gc');
  if (opts.clientes < 1) throw new Error('runLoad: clientes debe ser ≥ 1');
  const carga: Carga = opts.carga ?? { tipo: 'secuencia' };
  const isbns = opts.isbns?.length ? opts.isbns : [ISBN_PRUEBA];
  const transporte = opts.transporte ?? 'dealer';
  const prefijo = opts.prefijoUsuario ?? `carga-${randomBytes(3).toString('hex')}`;
  const makeId = idGenerator(prefijo);
  const clientOpts = { endpoint: opts.endpoint ?? '', timeoutMs: opts.timeoutMs ?? 5000, retries: opts.retries ?? 3, sede: opts.sede, makeId };

  // Clients we create we also close; an injected one belongs to the caller.
  const propios: GcCaller[] = [];
  let compartido = opts.gc;
  if (!compartido && transporte === 'dealer') propios.push((compartido = new GcPipelineClient(clientOpts)));
  const clienteDe = (): GcCaller => {
    if (compartido) return compartido;
    const c = new GcClient(clientOpts);
    propios.push(c);
    return c;
  };

  const rec = new LatencyRecorder();
  const inicio = new Date();
  const t0 = performance.now();
  const fin = t0 + opts.duracionS * 1000;
  let detener = false;

  const una = async (gc: GcCaller, operacion: OperacionActor, isbn: string, usuario: string): Promise<void> => {
    const t = performance.now();
    try {
      const r = await gc.enviar({ operacion, isbn, usuario });
      rec.record(operacion, r.codigo, isSuccessCode(r.codigo), (performance.now() - t) * 1000);
    } catch (e) {
      if (e instanceof GcClienteCerradoError) detener = true;
      else rec.recordSinRespuesta(operacion);
    }
  };
  const sigue = () => !detener && performance.now() < fin;

  const cliente = async (i: number): Promise<void> => {
    const gc = clienteDe();
    const isbn = isbns[i % isbns.length]!;
    if (carga.tipo === 'mezcla') {
      const usuario = `${prefijo}-${i}`;
      while (sigue()) await una(gc, elegir(carga.pesos), isbn, usuario);
      return;
    }
    // A fresh usuario per cycle: an async devolución may still be pending when
    // the next préstamo arrives, and the same usuario would get PRESTAMO_ACTIVO.
    for (let ciclo = 1; sigue(); ciclo++) {
      const usuario = `${prefijo}-${i}-${ciclo}`;
      for (const op of ['prestamo', 'renovacion', 'devolucion'] as const) {
        if (!sigue()) break;
        await una(gc, op, isbn, usuario);
      }
    }
  };

  let prev = { t: t0, n: 0 };
  const progreso = opts.onProgreso
    ? setInterval(() => {
        const now = performance.now();
        const n = rec.respuestas;
        opts.onProgreso!({
          transcurridoMs: now - t0,
          respuestas: n,
          opsPorSegundo: round2(((n - prev.n) * 1000) / Math.max(now - prev.t, 1)),
          sinRespuesta: rec.sinRespuesta,
          rechazadas: n - rec.exitosas,
        });
        prev = { t: now, n };
      }, opts.intervaloProgresoMs ?? 500)
    : undefined;

  try {
    await Promise.all(Array.from({ length: opts.clientes }, (_, i) => cliente(i)));
  } finally {
    clearInterval(progreso);
    for (const c of propios) c.close();
  }
  const duracionMs = performance.now() - t0;
  return {
    inicio: inicio.toISOString(),
    fin: new Date().toISOString(),
    duracionMs: Math.round(duracionMs),
    config: { clientes: opts.clientes, duracionS: opts.duracionS, carga, isbns, transporte, endpoint: opts.endpoint, prefijoUsuario: prefijo },
    ...rec.resumen(duracionMs),
  };
}
