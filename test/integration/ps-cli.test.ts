/** The PS CLI run in-process (runCli) against the scripted fake GC. */
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../solicitante/cli.js';
import { FakeGc, type FakeGcOptions } from '../harness/fake-gc.js';
import { freePort } from '../harness/ports.js';
import { sink } from '../harness/sink.js';
import { cleanupAfterEach } from '../harness/fixtures.js';
import { formatLoadReport, formatProgress } from '../../solicitante/load-report.js';
import { SeriesRecorder } from '../../solicitante/series.js';

const ISBN = '978-84-376-0494-7';
let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ps-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// Undone newest first after each test, also when it fails; one failing step does not stop the rest.
const defer = cleanupAfterEach();

async function fake(opts: FakeGcOptions = {}) {
  const gc = await FakeGc.start(opts);
  defer(() => gc.stop());
  return gc;
}


async function cli(argv: string[], gc: FakeGc | string, stdin = '', env: NodeJS.ProcessEnv = {}) {
  const out = sink();
  const err = sink();
  const endpoint = typeof gc === 'string' ? gc : gc.endpoint;
  let beforeLoad = 0;
  const code = await runCli(argv, {
    stdin: Readable.from([stdin]),
    stdout: out.stream,
    stderr: err.stream,
    env: { GC_ENDPOINT: endpoint, PS_TIMEOUT_MS: '300', PS_RETRIES: '1', ...env },
    beforeLoad: () => void beforeLoad++,
  });
  return { code, out: out.text(), err: err.text(), beforeLoad };
}

/** An endpoint where nothing listens. */
async function deadEndpoint(): Promise<string> {
  return `tcp://127.0.0.1:${await freePort()}`;
}

describe('ps archivo', () => {
  it('sends each line in order, prints one line per reply and a summary', async () => {
    const gc = await fake({ libros: { [ISBN]: 2, '978-0-00-000001-1': 1 } });
    const f = join(dir, 'solicitudes.txt');
    writeFileSync(
      f,
      [
        '# préstamos de prueba',
        `PRESTAMO ${ISBN} ana`,
        `RENO ${ISBN} ana`,
        '',
        `PRES ${ISBN} ana   # repetido: ya tiene uno`,
        `consulta ${ISBN}`,
        'PRESTAR 1 2',
        `DEVOLUCION 978-9-99-999999-9 ana`,
        `devo ${ISBN} ana`,
      ].join('\n'),
    );
    const r = await cli(['archivo', f], gc);
    expect(r.code).toBe(1); // one invalid line
    const lineas = r.out.split('\n');
    expect(lineas[0]).toMatch(new RegExp(`^\\[2\\] PRESTAMO ${ISBN} ana → APROBADO ".*" vence \\d{4}-\\d{2}-\\d{2} \\[id ps-`));
    expect(lineas[1]).toMatch(/^\[3\] RENOVACION .* ana → APROBADO .* vence /);
    expect(lineas[2]).toMatch(/^\[5\] PRESTAMO .* → PRESTAMO_ACTIVO/);
    expect(lineas[3]).toMatch(/^\[6\] CONSULTA .* → OK .* disponibles 1\/2/);
    expect(lineas[4]).toMatch(/^\[7\] ERROR operación desconocida 'PRESTAR'/); // the number once
    expect(lineas[5]).toMatch(/^\[8\] DEVOLUCION .* → ACEPTADO/);
    expect(lineas[6]).toMatch(/^\[9\] DEVOLUCION .* → ACEPTADO/);
    expect(r.out).toContain('enviadas: 6  exitosas: 5  sin respuesta: 0  líneas inválidas: 1');
    expect(r.out).toContain('por código: ACEPTADO=2, APROBADO=2, OK=1, PRESTAMO_ACTIVO=1');
    expect(r.out).toMatch(/tiempo: \d/);
    // sent in file order
    expect(gc.recibidas.map((m) => (m as { operacion: string }).operacion)).toEqual(['prestamo', 'renovacion', 'prestamo', 'consulta', 'devolucion', 'devolucion']);
  });

  it('exits 0 when every line is valid and answered, refusals included', async () => {
    const gc = await fake({ libros: { [ISBN]: 1 } });
    const f = join(dir, 'limpio.txt');
    writeFileSync(f, `PRESTAMO ${ISBN} ana\nPRESTAMO ${ISBN} bea\n`);
    const r = await cli(['archivo', f], gc);
    expect(r.out).toMatch(/^\[2\] PRESTAMO .* → SIN_EJEMPLARES/m);
    expect(r.code).toBe(0);
  });

  it('exits 1 when every line is invalid', async () => {
    const gc = await fake();
    const f = join(dir, 'invalido.txt');
    writeFileSync(f, 'PRESTAR 1 2\nHOLA\n');
    const r = await cli(['archivo', f], gc);
    expect(r.code).toBe(1);
    expect(r.out).toContain('líneas inválidas: 2');
    expect(gc.recibidas).toEqual([]);
  });

  it('exits non-zero when the file cannot be read', async () => {
    const gc = await fake();
    const r = await cli(['archivo', join(dir, 'no-existe.txt')], gc);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/No se pudo leer el archivo .*no-existe\.txt.*: no existe \[ENOENT\]/);
  });

  it('a missing file is a usage error (exit 2) also with no GC up: the file is read before the GCs are probed', async () => {
    const endpoint = await deadEndpoint();
    const r = await cli(['archivo', join(dir, 'no-existe.txt')], endpoint, '', { PS_TIMEOUT_MS: '5000' });
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/No se pudo leer el archivo .*no-existe\.txt.*: no existe \[ENOENT\]/);
    expect(r.err).not.toContain('No se alcanza');
  });

  it('once its output is closed (| head -1), no further line is sent', async () => {
    const gc = await fake();
    const f = join(dir, 'cabeza.txt');
    writeFileSync(f, Array.from({ length: 5 }, () => `CONSULTA ${ISBN}`).join('\n') + '\n');
    // A pipe whose reader leaves after its first line (head -1): every later write fails with EPIPE.
    let read = '';
    const pipe = new Writable({
      write(chunk: Buffer, _enc, cb) {
        if (read.includes('\n')) return cb(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' }));
        read += chunk.toString();
        cb();
      },
    });
    pipe.on('error', () => undefined); // main.ts's guardStdio does the same for process.stdout
    const code = await runCli(['archivo', f], { stdin: Readable.from(['']), stdout: pipe, stderr: new PassThrough(), env: { GC_ENDPOINT: gc.endpoint, PS_TIMEOUT_MS: '300', PS_RETRIES: '1' } });
    expect(code).toBe(0); // the reader chose to stop: as if the file ended there
    expect(read).toMatch(/^\[1\] CONSULTA .* → OK .*\n$/);
    expect(gc.recibidas).toHaveLength(1);
  });

  it('counts requests the GC never answers and goes on', async () => {
    const gc = await fake({ descartarPrimeras: 2 }); // both attempts of line 1 lost
    const f = join(dir, 'perdidas.txt');
    writeFileSync(f, `PRESTAMO ${ISBN} bea\nCONSULTA ${ISBN}\n`);
    const r = await cli(['archivo', f], gc);
    expect(r.code).toBe(1); // one request without a reply
    expect(r.out).toMatch(/^\[1\] PRESTAMO .* → SIN RESPUESTA: El GC .* no respondió tras 2 intento/m);
    expect(r.out).toMatch(/^\[2\] CONSULTA .* → OK/m);
    expect(r.out).toContain('sin respuesta: 1');
    expect(r.err).toMatch(/reintento 2\/2 con la misma clave/);
  });
});

describe('ps test-sistema', () => {
  it('PASSes against a GC that follows the rules (async devolución polled with estado)', async () => {
    const gc = await fake({ devolucionAsync: true, retardoAsyncMs: 300 });
    const r = await cli(['test-sistema'], gc);
    expect(r.out).not.toContain('FAIL');
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/usuario ts-\d+/);
    expect(r.out).toMatch(/PASS {2}4\. Tercera renovación \(debe rechazarse\): esperado LIMITE_RENOVACIONES; obtenido LIMITE_RENOVACIONES/);
    expect(r.out).toMatch(/PASS {2}5b\. Devolución aplicada \(estado\): esperado COMPLETADA; obtenido COMPLETADA/);
    expect(r.out).toMatch(/PASS {2}2\. Primera renovación \(fecha\)/);
    expect(r.out).toMatch(/Resultado: PASS/);
    const ops = gc.recibidas.map((m) => (m as { operacion: string }).operacion);
    expect(ops.slice(0, 5)).toEqual(['prestamo', 'renovacion', 'renovacion', 'renovacion', 'devolucion']);
    expect(ops.slice(-2)).toEqual(['prestamo', 'devolucion']); // new loan, then the clean-up return
    expect(ops).toContain('estado');
    expect(r.out).toContain('Limpieza (no cuenta para el resultado)');
  });

  it('uses the given isbn and usuario and works with a synchronous devolución', async () => {
    const gc = await fake({ libros: { 'X-1': 1 }, devolucionAsync: false });
    const r = await cli(['test-sistema', '--isbn', 'X-1', '--usuario', 'u9'], gc);
    expect(r.code).toBe(0);
    expect(r.out).toContain('isbn X-1, usuario u9');
  });

  it('FAILs (non-zero exit) when the GC wrongly approves a third renewal', async () => {
    const gc = await fake({ maxRenovaciones: 3 });
    const r = await cli(['test-sistema'], gc);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/FAIL {2}4\. Tercera renovación \(debe rechazarse\): esperado LIMITE_RENOVACIONES; obtenido APROBADO/);
    expect(r.out).toMatch(/Resultado: FAIL/);
  });

  it('against a stopped GC: FAIL within seconds, saying the GC is unreachable (not after every timeout)', async () => {
    const endpoint = await deadEndpoint();
    const t0 = Date.now();
    // The defaults a user has: 5 s per attempt, 3 resends, six steps (about two minutes before).
    const r = await cli(['test-sistema'], endpoint, '', { PS_TIMEOUT_MS: '5000', PS_RETRIES: '3' });
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(r.code).toBe(1);
    expect(r.err).toContain(`No se alcanza ningún GC (${endpoint}): ¿está npm start en marcha?`);
    expect(r.out).toMatch(/Resultado: FAIL \(GC inalcanzable\)/);
  });

  it('archivo and carga against a stopped GC: the same, exit 1, nothing else printed', async () => {
    const endpoint = await deadEndpoint();
    const f = join(dir, 'sin-gc.txt');
    writeFileSync(f, `CONSULTA ${ISBN}\n`);
    for (const argv of [['archivo', f], ['carga', '--clientes', '1', '--duracion', '1']]) {
      const t0 = Date.now();
      const r = await cli(argv, endpoint, '', { PS_TIMEOUT_MS: '5000' });
      expect(Date.now() - t0, argv[0]).toBeLessThan(5000);
      expect(r.code, argv[0]).toBe(1);
      expect(r.err).toContain(`No se alcanza ningún GC (${endpoint})`);
      expect(r.out).toBe('');
    }
  });

  it('no reply to a calculation or a consulta: it says nothing changed, not to check its estado', async () => {
    const gc = await fake({ descartarPrimeras: 2 }); // it listens (the probe passes) and loses both attempts
    const r = await cli(['calc', 'suma', '1', '2'], gc, '', { PS_TIMEOUT_MS: '300', PS_RETRIES: '1' });
    expect(r.code).toBe(1);
    expect(r.err).toContain('no respondió tras 2 intento(s), con un plazo de 300 ms cada uno');
    expect(r.err).toContain('suma no cambia nada: puede repetirla');
    expect(r.err).not.toContain('consulte su estado');
  });

  it('calc against a stopped GC: says so at once, exit 1', async () => {
    const endpoint = await deadEndpoint();
    const t0 = Date.now();
    const r = await cli(['calc', 'suma', '1', '2'], endpoint, '', { PS_TIMEOUT_MS: '5000', PS_RETRIES: '3' });
    expect(Date.now() - t0).toBeLessThan(5000); // instead of every attempt's deadline
    expect(r.code).toBe(1);
    expect(r.err).toContain(`No se alcanza ningún GC (${endpoint})`);
  });

  it("with its own sede's GC down, a batch command goes straight to the next one: no timeout, no retry", async () => {
    const gc = await fake();
    const dead = await deadEndpoint();
    const f = join(dir, 'propio-caido.txt');
    writeFileSync(f, `CONSULTA ${ISBN}\n`);
    const r = await cli(['--gc', `${dead},${gc.endpoint}`, 'archivo', f], gc, '', { PS_TIMEOUT_MS: '5000' });
    expect(r.code).toBe(0);
    expect(r.err).not.toContain('sin respuesta del GC');
  });

  it('FAILs when a GC is there but does not answer', async () => {
    const gc = await fake({ descartarPrimeras: 1000 });
    const r = await cli(['test-sistema', '--timeout', '100', '--reintentos', '0'], gc);
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/FAIL {2}1\. Préstamo: esperado APROBADO; obtenido sin respuesta/);
  });
});

describe('ps menu', () => {
  it('is driven by piped stdin and exits cleanly at end of input', async () => {
    const gc = await fake();
    const stdin = ['1', ISBN, 'carla', '3', '', '', 'consulta', '', '9', '2', '', '', '5', ''].join('\n') + '\n';
    const r = await cli([], gc, stdin);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/PRESTAMO 978-84-376-0494-7 carla → APROBADO/);
    expect(r.out).toMatch(/RENOVACION 978-84-376-0494-7 carla → APROBADO/); // empty answers reuse the last values
    expect(r.out).toMatch(/CONSULTA 978-84-376-0494-7 → OK/);
    expect(r.out).toContain("Opción desconocida '9'");
    expect(r.out).toMatch(/DEVOLUCION .* → ACEPTADO/);
    expect(r.out).toMatch(/ESTADO ps-\S+ → OK/);
    expect(r.out.trimEnd().endsWith('Hasta luego.')).toBe(true);
  });

  it('quits on 0 / salir', async () => {
    const gc = await fake();
    const r = await cli(['menu'], gc, 'salir\n');
    expect(r.code).toBe(0);
    expect(gc.recibidas).toEqual([]);
    expect(r.out).toContain('Hasta luego.');
  });
});

describe('usage errors', () => {
  it('exits 2 with a clear message on a bad option or bad configuration', async () => {
    const gc = await fake();
    const badCarga = await cli(['carga', '--clientes', 'x'], gc);
    expect(badCarga.code).toBe(2);
    expect(badCarga.beforeLoad).toBe(0); // refused before anything was set up
    const bad = await cli(['archivo', 'x'], 'not-an-endpoint');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/GC_ENDPOINT/);
    const empty = await cli(['carga', '--isbns', ',,,'], gc);
    expect(empty).toMatchObject({ code: 2, beforeLoad: 0, err: expect.stringContaining('--isbns: la lista está vacía') });
    // A mistyped command is not taken for an argument of the default command (menu).
    const typo = await cli(['--timeout', '500', 'test-sitema'], gc);
    expect(typo.code).toBe(2);
    expect(typo.err).toMatch(/comando desconocido 'test-sitema'.*test-sistema/);
    // Its directory is a file (Node's recursive mkdir never returns under /proc: not used here).
    const notADir = join(dir, 'fichero');
    writeFileSync(notADir, '');
    const report = await cli(['carga', '--duracion', '1', '--json', join(notADir, 'r.json')], gc);
    expect(report.code).toBe(2);
    expect(report.err).toContain(`no se puede escribir el informe JSON en ${join(notADir, 'r.json')} (ya existe un fichero con ese nombre [EEXIST])`);
    expect(report.beforeLoad).toBe(0);
  });

  it('help speaks Spanish throughout, defaults included', async () => {
    const gc = await fake();
    const top = await cli(['--help'], gc);
    expect(top.code).toBe(0);
    expect(top.out).toMatch(/^Uso: ps \[opciones\] \[comando\]/);
    expect(top.out).toMatch(/^Comandos:/m);
    expect(top.out).toMatch(/help \[comando\] +muestra la ayuda de un comando/);
    const carga = await cli(['help', 'carga'], gc);
    expect(carga.out).toMatch(/--clientes <n> +clientes simultáneos \(por defecto: 10\)/);
    expect(carga.out).not.toMatch(/default|Usage|Options/);
  });

  it('refuses a --gc (or GC_ENDPOINTS) a PS cannot connect to: a wildcard host, a port outside 1..65535 (exit 2, in Spanish)', async () => {
    const gc = await fake();
    for (const [v, why] of [
      ['tcp://*:5555', /'\*' no es una dirección a la que conectarse/],
      [`${gc.endpoint},tcp://*:5555`, /'\*' no es una dirección a la que conectarse/],
      ['tcp://127.0.0.1:99999', /puerto 99999 fuera de rango \(1-65535\)/],
      ['tcp://127.0.0.1:0', /puerto 0 fuera de rango \(1-65535\)/],
    ] as const) {
      const r = await cli(['--gc', v, 'calc', 'suma', '1', '2'], gc);
      expect(r.code, v).toBe(2);
      expect(r.err, v).toMatch(/--gc/);
      expect(r.err, v).toMatch(why);
      expect(r.err, v).not.toMatch(/Invalid argument/);
      const env = await cli(['calc', 'suma', '1', '2'], v);
      expect(env.code, `GC_ENDPOINT=${v}`).toBe(2);
      expect(env.err, v).toMatch(/GC_ENDPOINT/);
      expect(env.err, v).toMatch(why);
    }
    expect(gc.recibidas).toEqual([]);
    // The edges of the range still work.
    expect((await cli(['--gc', 'tcp://127.0.0.1:65535', '--timeout', '50', 'calc', 'eco', 'x'], gc)).err).not.toMatch(/fuera de rango/);
  });

  it('bounds --reintentos like PS_RETRIES (0..100), and refuses a calc number that is not finite (exit 2)', async () => {
    const gc = await fake();
    const many = await cli(['--reintentos', '101', 'calc', 'suma', '1', '2'], gc);
    expect(many.code).toBe(2);
    expect(many.err).toMatch(/--reintentos.*entero entre 0 y 100/);
    const huge = await cli(['--reintentos', '2147483647', 'calc', 'suma', '1', '2'], gc);
    expect(huge.code).toBe(2);
    for (const args of [['suma', '1e400', '2'], ['resta', '2', '-1e400'], ['sumar_lista', '1', '1e309'], ['suma_cuadrados', '1e999']]) {
      const r = await cli(['calc', ...args], gc);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.err, args.join(' ')).toMatch(/'-?1e\d+' es demasiado grande: no es un número finito/);
    }
    expect(gc.recibidas).toEqual([]);
  });

  it('refuses a --gc that is not an endpoint before sending anything', async () => {
    const gc = await fake();
    for (const v of ['localhost:5555', 'tcp://127.0.0.1', '']) {
      const r = await cli(['--gc', v, 'archivo', 'x'], gc);
      expect(r.code, v).toBe(2);
      expect(r.err).toMatch(/--gc.*endpoint no válido; se espera tcp:\/\/host:puerto/);
      expect(r.out).toBe('');
    }
    expect(gc.recibidas).toEqual([]);
    // A valid one still works.
    const f = join(dir, 'gc-ok.txt');
    writeFileSync(f, `CONSULTA ${ISBN}\n`);
    const ok = await cli(['--gc', gc.endpoint, 'archivo', f], 'tcp://127.0.0.1:1');
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/CONSULTA .* → OK/);
  });
});

describe('paths a user types, and what carga prints', () => {
  it('archivo and carga --json resolve relative paths where the user ran npm (INIT_CWD), not in the repo root', async () => {
    const gc = await fake({ libros: { [ISBN]: 50 } });
    const home = mkdtempSync(join(tmpdir(), 'ps-usuario-'));
    defer(() => rmSync(home, { recursive: true, force: true }));
    writeFileSync(join(home, 'mias.txt'), `CONSULTA ${ISBN}\n`);
    const a = await cli(['archivo', 'mias.txt'], gc, '', { INIT_CWD: home });
    expect(a.code).toBe(0);
    expect(a.out).toMatch(/CONSULTA .* → OK/);

    const named = await cli(['carga', '--clientes', '1', '--duracion', '1', '--json', 'carga.json'], gc, '', { INIT_CWD: home });
    expect(named.code).toBe(0);
    expect(named.beforeLoad).toBe(1); // main.ts's hook (the scheduling policy) ran once, before the load
    expect(a.beforeLoad).toBe(0); // and only for carga
    expect(named.out).toContain(`informe JSON: ${join(home, 'carga.json')}`);
    expect(JSON.parse(readFileSync(join(home, 'carga.json'), 'utf8')).respuestas).toBeGreaterThan(0);
    // --json alone: reports/ (git-ignored), never the working tree's root.
    const dflt = await cli(['carga', '--clientes', '1', '--duracion', '1', '--json'], gc, '', { INIT_CWD: home });
    expect(dflt.code).toBe(0);
    expect(readdirSync(join(home, 'reports')).filter((f) => /^carga-.*\.json$/.test(f))).toHaveLength(1);
  });

  it("carga's live rate and its final one carry labels that say which is which", () => {
    const live = formatProgress({ transcurridoMs: 12_000, respuestas: 1200, respPorSegundoAhora: 150, respPorSegundoMedia: 100, rechazadas: 3, sinRespuesta: 0 });
    expect(live).toBe('12.0 s  respuestas 1200  resp/s: ahora 150, media 100  rechazadas 3  sin respuesta 0');
    const report = formatLoadReport({
      inicio: '', fin: '', duracionMs: 12_000,
      config: { clientes: 1, duracionS: 12, carga: { tipo: 'secuencia' }, isbns: [ISBN], transporte: 'dealer', repartir: false, prefijoUsuario: 'x' },
      respuestas: 1200, sinRespuesta: 0, exitosas: 1197, throughput: 100, porCodigo: { APROBADO: 1197, SIN_EJEMPLARES: 3 },
      global: { count: 1200, mean: 1, p50: 1, p95: 2, p99: 3, max: 4 },
      porOperacion: {},
      porGc: { 'tcp://127.0.0.1:5555': 1200 },
      serie: new SeriesRecorder(0).finish(12_000),
    });
    // The report's resp/s is the live line's "media".
    expect(report.split('\n')[1]).toMatch(/resp\/s \(media\)/);
    expect(report).toMatch(/^total\s+1200\s+100\.0\s/m);
  });
});

describe('ps menu, préstamo por título', () => {
  it('option 6 sends the title, with no isbn', async () => {
    const gc = await fake();
    const r = await cli(['menu'], gc, ['6', 'Cien años de soledad', 'ana', '0'].join('\n') + '\n');
    expect(r.code).toBe(0);
    expect(r.out).toContain('6) Préstamo por título');
    expect(gc.recibidas).toEqual([expect.objectContaining({ operacion: 'prestamo', titulo: 'Cien años de soledad', usuario: 'ana' })]);
    expect(gc.recibidas[0]).not.toHaveProperty('isbn');
    expect(r.out).toMatch(/PRESTAMO «Cien años de soledad» ana → /);
  });
});
