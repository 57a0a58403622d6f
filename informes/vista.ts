/**
 * What an HTML report shows, independent of HTML: sections of text lines,
 * tables and charts (columns of numbers over seconds, with marks such as the
 * fault and the recovery). Built here from the JSON reports of carga, bench and
 * drill, so the page's script (web/informe.js) only draws; pure, no I/O.
 */
import { OPERACIONES_ACTOR } from '../common/protocol/ps-gc.js';
import type { BenchReport } from '../scripts/bench/main.js';
import { TITULO_RONDAS, tablaRondas } from './tabla-rondas.js';
import type { DrillReport } from '../scripts/drill/report.js';
import type { LatencyStats, LatencySummary } from '../solicitante/latency.js';
import type { LoadReport } from '../solicitante/load.js';
import type { Serie } from '../solicitante/series.js';

export type TipoMarca = 'falla' | 'recuperacion' | 'rol' | 'breaker' | 'proceso';

/** A moment worth a vertical line on a chart; t in the chart's x units. */
export interface Marca {
  t: number;
  texto: string;
  tipo: TipoMarca;
}

export interface Grafico {
  titulo: string;
  unidad: string;
  /** Seconds since the run started. */
  x: number[];
  series: Array<{ nombre: string; valores: Array<number | null> }>;
  marcas: Marca[];
}

export interface Tabla {
  titulo?: string;
  cabecera: string[];
  filas: string[][];
}

export interface Seccion {
  titulo: string;
  lineas: string[];
  veredicto?: { ok: boolean; texto: string };
  tablas: Tabla[];
  graficos: Grafico[];
}

export interface Vista {
  titulo: string;
  generado: string;
  secciones: Seccion[];
}

const f1 = (x: number | null | undefined) => (x === null || x === undefined || Number.isNaN(x) ? '—' : x.toFixed(1));
const f2 = (x: number | null | undefined) => (x === null || x === undefined || Number.isNaN(x) ? '—' : x.toFixed(2));
const f3 = (x: number | null | undefined) => (x === null || x === undefined || Number.isNaN(x) ? '—' : x.toFixed(3));

/** The operations of a series in a stable order: the three of the protocol first. */
function opsOf(serie: Serie): string[] {
  const ops = Object.keys(serie.porOperacion);
  return [...OPERACIONES_ACTOR.filter((o) => ops.includes(o)), ...ops.filter((o) => !(OPERACIONES_ACTOR as readonly string[]).includes(o)).sort()];
}

/**
 * Counts per bucket as rates per second. The last bucket ends with the run and may be a
 * sliver (the replies still in flight at the deadline): under half a step its rate would
 * be noise, so it is left out (null); its counts stay in the series.
 */
export function porSegundo(serie: Serie, n: number[]): Array<number | null> {
  return n.map((v, i) => {
    const start = serie.t[i] ?? i * serie.pasoS;
    const width = Math.min(serie.pasoS, (serie.finS ?? Infinity) - start);
    return width >= serie.pasoS / 2 ? v / width : null;
  });
}

/** Throughput, failures and latency over time, each with the run's marks. */
export function graficosDeSerie(serie: Serie, marcas: Marca[] = [], fallos = 'fallidas'): Grafico[] {
  const ops = opsOf(serie);
  const rate = (n: number[]) => porSegundo(serie, n);
  return [
    {
      titulo: 'Solicitudes por segundo, por operación',
      unidad: 'sol/s',
      x: serie.t,
      series: [...ops.map((o) => ({ nombre: o, valores: rate(serie.porOperacion[o]!.n) })), { nombre: 'total', valores: rate(serie.total.n) }, { nombre: fallos, valores: rate(serie.total.fallos) }],
      marcas,
    },
    { titulo: 'Latencia p50 por operación', unidad: 'ms', x: serie.t, series: ops.map((o) => ({ nombre: o, valores: serie.porOperacion[o]!.p50 })), marcas },
    { titulo: 'Latencia p99 por operación', unidad: 'ms', x: serie.t, series: ops.map((o) => ({ nombre: o, valores: serie.porOperacion[o]!.p99 })), marcas },
  ];
}

function latencyTable(titulo: string, s: LatencySummary): Tabla {
  const fila = (name: string, x: LatencyStats, throughput: number, extra: string[]) => [name, String(x.count), f1(throughput), f2(x.p50), f2(x.p95), f2(x.p99), f2(x.max), ...extra];
  const filas = Object.entries(s.porOperacion).map(([op, x]) => fila(op, x, x.throughput, [String(x.sinRespuesta)]));
  filas.push(fila('total', s.global, s.throughput, [String(s.sinRespuesta)]));
  return { titulo, cabecera: ['operación', 'respuestas', 'resp/s', 'p50 ms', 'p95 ms', 'p99 ms', 'máx ms', 'sin respuesta'], filas };
}

function codesTable(porCodigo: Record<string, number>): Tabla {
  return { titulo: 'Respuestas por código', cabecera: ['código', 'n'], filas: Object.entries(porCodigo).sort((a, b) => b[1] - a[1]).map(([c, n]) => [c, String(n)]) };
}

/** Replies per GC (the PS endpoint that answered), with each one's share. */
function porGcTable(porGc: Record<string, number>): Tabla {
  const total = Object.values(porGc).reduce((a, b) => a + b, 0);
  return {
    titulo: 'Respuestas por GC',
    cabecera: ['GC', 'respuestas', '%'],
    filas: Object.entries(porGc).sort((a, b) => b[1] - a[1]).map(([gc, n]) => [gc, String(n), total ? ((100 * n) / total).toFixed(1) : '—']),
  };
}

function patternText(r: LoadReport): string {
  return r.config.carga.tipo === 'secuencia' ? 'secuencia préstamo → renovación → devolución' : `mezcla ${Object.entries(r.config.carga.pesos).map(([k, v]) => `${k}=${v}`).join(',')}`;
}

function seccionesDeCarga(r: LoadReport, titulo = 'Carga'): Seccion[] {
  return [
    {
      titulo,
      lineas: [
        `${r.config.clientes} clientes, ${patternText(r)}, ${(r.duracionMs / 1000).toFixed(1)} s, transporte ${r.config.transporte}`,
        `inicio ${r.inicio}, fin ${r.fin}${r.config.endpoints?.length ? `, GC ${r.config.endpoints.join(', ')}` : ''}${r.config.repartir ? ' (clientes repartidos entre los GC)' : ''}`,
        `exitosas ${r.exitosas}, rechazadas ${r.respuestas - r.exitosas}, sin respuesta ${r.sinRespuesta}`,
      ],
      tablas: [latencyTable('Resumen por operación', r), codesTable(r.porCodigo), ...(r.porGc ? [porGcTable(r.porGc)] : [])],
      graficos: r.serie ? graficosDeSerie(r.serie, [], 'sin éxito') : [],
    },
  ];
}

function seccionesDeBench(r: BenchReport): Seccion[] {
  const ratios: Tabla = {
    titulo: 'Relación sistema / techo',
    cabecera: ['operación', 'ops/s sistema/techo', 'p99 sistema/techo'],
    filas: Object.entries(r.ratios).map(([op, x]) => [op, f3(x.throughput), f2(x.p99)]),
  };
  const w = r.despertaresPorOperacion;
  const exp = r.expulsionesPorOperacion;
  const cpu: Tabla = {
    titulo: 'CPU (µs), despertares y expulsiones por operación, de /proc',
    cabecera: ['proceso', 'CPU sistema', 'CPU techo', 'despertares sistema', 'despertares techo', 'expulsiones sistema', 'expulsiones techo'],
    filas: Object.entries(r.cpuPorOperacion?.sistema ?? {}).map(([p, us]) => [p, us === null ? '—' : String(us), String(r.cpuPorOperacion.techo[p] ?? '—'), String(w?.sistema[p] ?? '—'), String(w?.techo[p] ?? '—'), String(exp?.sistema[p] ?? '—'), String(exp?.techo[p] ?? '—')]),
  };
  const [cabeceraRondas, ...filasRondas] = tablaRondas(r.rondas ?? []);
  const rondas: Tabla[] = filasRondas.length ? [{ titulo: TITULO_RONDAS, cabecera: cabeceraRondas!, filas: filasRondas }] : [];
  const total = r.ratios.total;
  return [
    {
      titulo: 'Banco de pruebas',
      lineas: [
        `${r.config.clientes} clientes, ${r.config.duracionS} s por fase, ${r.config.actoresPorTipo} actores por tipo, replicación ${r.config.replicacion}${r.config.planificador ? `, planificador ${r.config.planificador}` : ''}${Object.keys(r.config.env).length ? `, ${Object.entries(r.config.env).map(([k, v]) => `${k}=${v}`).join(' ')}` : ''}`,
        `fecha ${r.fecha}`,
        ...(total ? [`sistema/techo: ops/s ${f3(total.throughput)}, p99 ${f2(total.p99)}`] : []),
        ...r.notas.map((n) => `nota: ${n}`),
      ],
      tablas: [ratios, ...(cpu.filas.length ? [cpu] : []), ...rondas],
      graficos: [],
    },
    {
      titulo: 'Sistema (PS → GC → actores → GA → PostgreSQL)',
      lineas: [`exitosas ${r.sistema.exitosas}/${r.sistema.respuestas}, sin respuesta ${r.sistema.sinRespuesta}`],
      tablas: [latencyTable('Sistema', r.sistema)],
      graficos: r.sistema.serie ? graficosDeSerie(r.sistema.serie, [], 'sin éxito') : [],
    },
    {
      titulo: 'Techo (SELECT aplicar_operacion directo a PostgreSQL)',
      lineas: [`exitosas ${r.techo.exitosas}/${r.techo.respuestas}, sin respuesta ${r.techo.sinRespuesta}`],
      tablas: [latencyTable('Techo', r.techo)],
      graficos: r.techo.serie ? graficosDeSerie(r.techo.serie, [], 'sin éxito') : [],
    },
  ];
}

/** The fault, the recovery, the takeover and every GA state change, in seconds since the load started. */
function marcasDeDrill(r: DrillReport): Marca[] {
  const s = (ms: number) => ms / 1000;
  const m: Marca[] = [{ t: s(r.falla.tMs), texto: `falla: ${r.falla.detalle}`, tipo: 'falla' }];
  if (r.recuperacionMs !== null) m.push({ t: s(r.falla.tMs + r.recuperacionMs), texto: `recuperado en ${r.recuperacionMs} ms`, tipo: 'recuperacion' });
  else m.push({ t: s(r.falla.tMs), texto: 'sin recuperación', tipo: 'recuperacion' });
  // The first row per GA is its state when the watch began, not a change.
  const seen = new Set<string>();
  for (const g of r.ga) {
    if (seen.has(g.ga)) m.push({ t: s(g.tMs), texto: `GA ${g.ga} ${g.estado}${g.timeline ? ` tl${g.timeline}` : ''}`, tipo: 'rol' });
    seen.add(g.ga);
  }
  if (r.antiguoPrimario?.retorno) m.push({ t: s(r.antiguoPrimario.retorno.gaRestartedAt - Date.parse(r.inicio)), texto: `vuelve el GA ${r.antiguoPrimario.retorno.ga}`, tipo: 'proceso' });
  return m.sort((a, b) => a.t - b.t);
}

function seccionesDeDrill(r: DrillReport): Seccion[] {
  const lat = (x: DrillReport['latencia']['antes']) => (x.n ? `p50 ${x.p50} ms, p99 ${x.p99} ms, máx ${x.max} ms (${x.n})` : '—');
  const s = r.solicitudes;
  return [
    {
      titulo: `Simulacro ${r.escenario} (replicación ${r.replicacion})`,
      lineas: [
        r.descripcion,
        `${r.clientes} PS; inicio ${r.inicio}`,
        `falla: ${r.falla.detalle}, en t=+${(r.falla.tMs / 1000).toFixed(1)} s`,
        `recuperación: ${r.recuperacionMs ?? '—'} ms${r.tomaDeControlMs !== null ? `; toma de control: ${r.tomaDeControlMs} ms` : ''}`,
        `solicitudes ${s.total} (exitosas ${s.exitosas}); fallidas tras la falla ${s.fallidas}; abandonadas ${s.abandonadas}`,
        `latencia antes de la falla: ${lat(r.latencia.antes)}; tras recuperarse: ${lat(r.latencia.trasRecuperacion)}`,
        `reconocidas ${r.reconocidas}; perdidas ${r.perdidas}; aplicadas dos veces ${r.duplicadas}; invariante ${r.invariante.ok ? 'OK' : 'ROTA'}`,
      ],
      veredicto: { ok: r.ok, texto: r.ok ? 'RESULTADO: OK' : 'RESULTADO: FALLO' },
      tablas: [
        { titulo: 'Verificaciones', cabecera: ['', 'verificación', 'detalle'], filas: r.verificaciones.map((v) => [v.ok ? 'OK' : v.informativo ? 'INFO' : 'FALLO', v.nombre, v.detalle]) },
        { titulo: 'Estados de los GA', cabecera: ['t', 'GA', 'estado', 'timeline', 'replicación'], filas: r.ga.map((g) => [`${g.tMs >= 0 ? '+' : ''}${(g.tMs / 1000).toFixed(1)} s`, g.ga, g.estado, String(g.timeline ?? '—'), g.replicacion ?? '—']) },
        { titulo: 'PostgreSQL al final', cabecera: ['host', 'rol', 'timeline', 'detalle'], filas: r.postgres.map((p) => [p.host, p.rol, String(p.timeline ?? '—'), p.detalle ?? '']) },
        { titulo: 'Intentos por código', cabecera: ['código', 'n'], filas: Object.entries(s.porCodigo).sort((a, b) => b[1] - a[1]).map(([c, n]) => [c, String(n)]) },
        ...(r.porGc ? [porGcTable(r.porGc.total)] : []),
      ],
      graficos: r.serie ? graficosDeSerie(r.serie, marcasDeDrill(r)) : [],
    },
  ];
}

// ------------------------------------------------------------ any report, and comparisons

/** A report and, when one file holds several runs, what tells this one apart (a drill's scenario, a bench:gcs phase). */
export type Informe = ({ tipo: 'carga'; datos: LoadReport } | { tipo: 'bench'; datos: BenchReport } | { tipo: 'drill'; datos: DrillReport }) & { etiqueta?: string };

export class InformeDesconocidoError extends Error {
  override name = 'InformeDesconocidoError';
}

const isObject = (x: unknown): x is Record<string, unknown> => !!x && typeof x === 'object' && !Array.isArray(x);

/** Which report a parsed JSON document is (a drill of every scenario is a list of drill reports). */
export function reconocer(json: unknown, nombre = 'el documento'): Informe[] {
  if (Array.isArray(json)) {
    if (json.length === 0) throw new InformeDesconocidoError(`${nombre}: lista vacía`);
    return json.flatMap((x, i) => reconocer(x, `${nombre}[${i}]`));
  }
  if (!isObject(json)) throw new InformeDesconocidoError(`${nombre} no es un informe (se esperaba un objeto JSON)`);
  if (typeof json.escenario === 'string' && isObject(json.falla) && isObject(json.solicitudes)) return [{ tipo: 'drill', datos: json as unknown as DrillReport, etiqueta: json.escenario }];
  // npm run bench:gcs: the same load through one GC and through two, in rounds.
  if (Array.isArray(json.medidas) && json.medidas.length > 0) {
    return json.medidas.map((m: unknown, i) => {
      if (!isObject(m) || !isObject(m.informe)) throw new InformeDesconocidoError(`${nombre}: medidas[${i}] no tiene informe`);
      const [carga] = reconocer(m.informe, `${nombre}: medidas[${i}].informe`);
      return { ...carga!, etiqueta: `${String(m.fase ?? '')}${m.ronda !== undefined ? `, ronda ${String(m.ronda)}` : ''}`.trim() };
    });
  }
  if (isObject(json.sistema) && isObject(json.techo) && isObject(json.ratios)) return [{ tipo: 'bench', datos: json as unknown as BenchReport }];
  if (isObject(json.config) && isObject(json.porOperacion) && isObject(json.global)) return [{ tipo: 'carga', datos: json as unknown as LoadReport }];
  throw new InformeDesconocidoError(`${nombre} no es un informe de carga, bench ni drill`);
}

export function secciones(i: Informe): Seccion[] {
  switch (i.tipo) {
    case 'carga':
      return seccionesDeCarga(i.datos);
    case 'bench':
      return seccionesDeBench(i.datos);
    case 'drill':
      return seccionesDeDrill(i.datos);
  }
}

export function vistaDe(titulo: string, informes: Informe[], generado = new Date()): Vista {
  return { titulo, generado: generado.toISOString(), secciones: informes.flatMap(secciones) };
}

/** One run reduced to what runs of any kind have in common. */
interface Corrida {
  nombre: string;
  serie?: Serie;
  marcas: Marca[];
  /** Row name → value; rows a run lacks show '—'. */
  filas: Map<string, string>;
}

function filasDeResumen(s: LatencySummary, filas: Map<string, string>): void {
  filas.set('sol/s', f1(s.throughput));
  filas.set('p50 ms', f2(s.global.p50));
  filas.set('p99 ms', f2(s.global.p99));
  for (const op of OPERACIONES_ACTOR) {
    const x = s.porOperacion[op];
    if (!x) continue;
    filas.set(`${op} sol/s`, f1(x.throughput));
    filas.set(`${op} p99 ms`, f2(x.p99));
  }
  filas.set('sin respuesta', String(s.sinRespuesta));
}

function corrida(nombre: string, i: Informe): Corrida {
  const filas = new Map<string, string>([['tipo', i.tipo]]);
  switch (i.tipo) {
    case 'carga': {
      const r = i.datos;
      filas.set('fecha', r.inicio);
      filas.set('clientes', String(r.config.clientes));
      filas.set('duración s', (r.duracionMs / 1000).toFixed(1));
      filas.set('carga', patternText(r));
      filasDeResumen(r, filas);
      return { nombre, serie: r.serie, marcas: [], filas };
    }
    case 'bench': {
      const r = i.datos;
      filas.set('fecha', r.fecha);
      filas.set('clientes', String(r.config.clientes));
      filas.set('duración s', String(r.config.duracionS));
      filas.set('actores por tipo', String(r.config.actoresPorTipo));
      filas.set('replicación', r.config.replicacion);
      filas.set('entorno', Object.entries(r.config.env).map(([k, v]) => `${k}=${v}`).join(' ') || '—');
      filasDeResumen(r.sistema, filas);
      filas.set('techo sol/s', f1(r.techo.throughput));
      if (r.ratios.total) {
        filas.set('sol/s sistema/techo', f3(r.ratios.total.throughput));
        filas.set('p99 sistema/techo', f2(r.ratios.total.p99));
      }
      if (r.rondas?.length) filas.set('rondas ABBA (la mediana)', String(r.rondas.length));
      return { nombre, serie: r.sistema.serie, marcas: [], filas };
    }
    case 'drill': {
      const r = i.datos;
      filas.set('fecha', r.inicio);
      filas.set('escenario', r.escenario);
      filas.set('clientes', String(r.clientes));
      filas.set('replicación', r.replicacion);
      filas.set('p50 ms', String(r.latencia.antes.p50 ?? '—'));
      filas.set('p99 ms', String(r.latencia.antes.p99 ?? '—'));
      filas.set('p99 ms tras recuperarse', String(r.latencia.trasRecuperacion.p99 ?? '—'));
      filas.set('recuperación ms', String(r.recuperacionMs ?? '—'));
      filas.set('toma de control ms', String(r.tomaDeControlMs ?? '—'));
      filas.set('fallidas', String(r.solicitudes.fallidas));
      filas.set('perdidas', String(r.perdidas));
      filas.set('resultado', r.ok ? 'OK' : 'FALLO');
      return { nombre, serie: r.serie, marcas: marcasDeDrill(r), filas };
    }
  }
}

/** Side by side: a table with one column per run, and each chart with one line per run. */
export function vistaComparada(entradas: Array<{ nombre: string; informe: Informe }>, generado = new Date()): Vista {
  const corridas = entradas.map((e) => corrida(e.nombre, e.informe));
  const nombresFila: string[] = [];
  for (const c of corridas) for (const k of c.filas.keys()) if (!nombresFila.includes(k)) nombresFila.push(k);
  const tabla: Tabla = { cabecera: ['', ...corridas.map((c) => c.nombre)], filas: nombresFila.map((k) => [k, ...corridas.map((c) => c.filas.get(k) ?? '—')]) };

  const conSerie = corridas.filter((c) => c.serie);
  const paso = Math.min(...conSerie.map((c) => c.serie!.pasoS));
  const largo = Math.max(0, ...conSerie.map((c) => c.serie!.t.length * (c.serie!.pasoS / paso)));
  const x = Array.from({ length: largo }, (_, i) => i * paso);
  /** A run's column on the common x (runs differ in length; a coarser step is spread over the finer one). */
  const alinear = (s: Serie, col: Array<number | null>) => x.map((t) => col[Math.floor(t / s.pasoS)] ?? null);
  const marcas = corridas.flatMap((c) => c.marcas.filter((m) => m.tipo !== 'rol').map((m) => ({ ...m, texto: `${c.nombre}: ${m.texto}` })));
  const overlay = (titulo: string, unidad: string, col: (s: Serie) => Array<number | null>): Grafico => ({
    titulo,
    unidad,
    x,
    series: conSerie.map((c) => ({ nombre: c.nombre, valores: alinear(c.serie!, col(c.serie!)) })),
    marcas,
  });
  const graficos = conSerie.length
    ? [
        overlay('Solicitudes por segundo (total)', 'sol/s', (s) => porSegundo(s, s.total.n)),
        overlay('Latencia p50 (total)', 'ms', (s) => s.total.p50),
        overlay('Latencia p99 (total)', 'ms', (s) => s.total.p99),
        ...OPERACIONES_ACTOR.filter((op) => conSerie.some((c) => c.serie!.porOperacion[op])).map((op) =>
          overlay(`Latencia p99 de ${op}`, 'ms', (s) => s.porOperacion[op]?.p99 ?? []),
        ),
      ]
    : [];
  const comparacion: Seccion = { titulo: `Comparación: ${corridas.map((c) => c.nombre).join(' / ')}`, lineas: ['El eje x es el tiempo desde el inicio de cada corrida.'], tablas: [tabla], graficos };
  const detalle = entradas.flatMap((e) => secciones(e.informe).map((s) => ({ ...s, titulo: `${e.nombre}: ${s.titulo}` })));
  return { titulo: 'Comparación de corridas', generado: generado.toISOString(), secciones: [comparacion, ...detalle] };
}
