/**
 * Small pure parts around the calculations: the PS `calc` words → request, the calculo
 * actor's runner (dedupe, concurrency, every outcome reported), the gateway's routes.
 */
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { calcRequest, formatCalc } from '../../solicitante/calc-command.js';
import { CalcRunner } from '../../actores/calc-runner.js';
import { rutaDe } from '../../gestor_carga/http-gateway.js';
import type { ResultadoCalculo, TareaCalculo } from '../../common/protocol/calc.js';
import type { Respuesta } from '../../common/protocol/ps-gc.js';
import { ACTOR_VARS, readConfig } from '../../common/config.js';

const log = pino({ level: 'silent' });

describe('ps calc: words → request', () => {
  it('numbers (negative, decimal, exponent), texts, lists, n', () => {
    expect(calcRequest('suma', ['10', '5'])).toEqual({ operacion: 'suma', a: 10, b: 5 });
    expect(calcRequest('Resta', ['-1.5', '2e3'])).toEqual({ operacion: 'resta', a: -1.5, b: 2000 });
    expect(calcRequest('división', ['1', '0'])).toEqual({ operacion: 'division', a: 1, b: 0 });
    expect(calcRequest('eco', ['hola', 'mundo'])).toEqual({ operacion: 'eco', texto: 'hola mundo' });
    expect(calcRequest('sumar_lista', ['1,2', '3', '-4.5'])).toEqual({ operacion: 'sumar_lista', numeros: [1, 2, 3, -4.5] });
    expect(calcRequest('suma_cuadrados', ['9'])).toEqual({ operacion: 'suma_cuadrados', n: 9 });
  });

  it('what is not a number, a missing operand or an unknown operation is a usage error', () => {
    expect(calcRequest('suma', ['diez', '5'])).toEqual({ error: "'diez' no es un número" });
    expect(calcRequest('suma', ['1'])).toMatchObject({ error: expect.stringMatching(/dos números/) });
    expect(calcRequest('suma', [' ', '1'])).toMatchObject({ error: expect.stringMatching(/no es un número/) });
    expect(calcRequest('sumar_lista', ['1', 'x'])).toEqual({ error: "'x' no es un número" });
    expect(calcRequest('mayusculas', [])).toMatchObject({ error: expect.stringMatching(/texto/) });
    expect(calcRequest('raiz', ['4'])).toMatchObject({ error: expect.stringMatching(/desconocida/) });
    // Not silently rounded to 1e23: an integer the wire cannot carry exactly is refused here.
    expect(calcRequest('suma', ['99999999999999999999999', '1'])).toMatchObject({ error: expect.stringMatching(/^'99999999999999999999999' es un entero demasiado grande/) });
    expect(calcRequest('suma', [String(Number.MAX_SAFE_INTEGER), '1'])).toEqual({ operacion: 'suma', a: Number.MAX_SAFE_INTEGER, b: 1 });
  });

  it('prints the result, and one line per part with where it was reassigned from', () => {
    const r: Respuesta = {
      exito: true,
      codigo: 'OK',
      mensaje: 'Suma de los cuadrados de 1 a 9: 285',
      fechaOperacion: '',
      clave: 'k1',
      datos: { resultado: '285', partes: [{ a: 1, b: 4, resultado: '30', actor: 'c1' }, { a: 5, b: 9, resultado: '255', actor: 'c2', reasignadaDesde: ['c3'] }] },
    };
    expect(formatCalc({ operacion: 'suma_cuadrados', n: 9 }, r)).toEqual([
      'SUMA_CUADRADOS 9 → OK "Suma de los cuadrados de 1 a 9: 285" [id k1]',
      '  parte 1..4: 30 (c1)',
      '  parte 5..9: 255 (c2, reasignada desde c3)',
    ]);
  });
});

describe('calculo actor runner', () => {
  it('runs each task once (a copy adds its GC to the result\'s recipients), reports every outcome, respects concurrency', async () => {
    const reports: Array<{ r: ResultadoCalculo; origins: number[] }> = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const runner = new CalcRunner({ concurrency: 1, log, report: (r, _t, _ms, origins) => reports.push({ r, origins }), pause: () => gate });
    const t = (id: string, calculo: TareaCalculo['calculo']): TareaCalculo => ({ id, intento: 1, calculo });
    // A two-chunk part: it waits at the gate between chunks.
    expect(runner.submit(t('p', { operacion: 'suma_cuadrados', a: 1, b: 2 ** 20 + 5 }), 0)).toBe('started');
    expect(runner.submit(t('p', { operacion: 'suma_cuadrados', a: 1, b: 2 ** 20 + 5 }), 1)).toBe('duplicate');
    expect(runner.submit(t('d', { operacion: 'division', a: 1, b: 0 }), 0)).toBe('queued');
    expect(runner.inFlight).toBe(2);
    release();
    await runner.idle();
    expect(reports).toHaveLength(2);
    expect(reports[0]).toMatchObject({ r: { id: 'p', codigo: 'OK' }, origins: [0, 1] });
    expect(typeof reports[0]!.r.valor).toBe('string');
    expect(reports[1]).toMatchObject({ r: { id: 'd', codigo: 'DIVISION_POR_CERO', mensaje: expect.any(String) }, origins: [0] });
    expect([runner.completed, runner.failed]).toEqual([2, 0]);
  });

  it("a rule's refusal counts as completed, like a library refusal; only a calculation that broke counts as failed", async () => {
    const codes: string[] = [];
    const runner = new CalcRunner({ concurrency: 4, log, report: (r) => codes.push(r.codigo), pause: () => Promise.reject(new Error('roto')) });
    runner.submit({ id: 'div', intento: 1, calculo: { operacion: 'division', a: 1, b: 0 } });
    runner.submit({ id: 'mul', intento: 1, calculo: { operacion: 'multiplicacion', a: 1e308, b: 10 } });
    runner.submit({ id: 'parte', intento: 1, calculo: { operacion: 'suma_cuadrados', a: 1, b: 10 } });
    await runner.idle();
    expect(codes.sort()).toEqual(['DIVISION_POR_CERO', 'ERROR_INTERNO', 'FUERA_DE_RANGO']);
    expect({ completadas: runner.completed, fallidas: runner.failed }).toEqual({ completadas: 2, fallidas: 1 });
  });

  it('parts running at once take turns one chunk per event-loop turn, so timers (heartbeats) run between chunks', async () => {
    const runner = new CalcRunner({ concurrency: 8, log, report: () => undefined });
    // 8 parts of 3 chunks, all started by one message: 24 chunks of a few ms each.
    for (let i = 0; i < 8; i++) runner.submit({ id: `parte-${i}`, intento: 1, calculo: { operacion: 'suma_cuadrados', a: 1, b: 3 * 2 ** 20 } }, 0);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    await runner.idle();
    clearInterval(timer);
    // Each turn runs one chunk, then the timers: ~24 ticks. Had every part run a chunk per
    // turn (each pausing on its own), the timers would have run ~3 times.
    expect(ticks).toBeGreaterThanOrEqual(16);
    expect(runner.completed).toBe(8);
  });

  it('an empty part is refused, not computed', async () => {
    const reports: ResultadoCalculo[] = [];
    const runner = new CalcRunner({ concurrency: 4, log, report: (r) => reports.push(r) });
    runner.submit({ id: 'x', intento: 1, calculo: { operacion: 'suma_cuadrados', a: 5, b: 4 } });
    await runner.idle();
    expect(reports).toEqual([{ id: 'x', codigo: 'SOLICITUD_INVALIDA', mensaje: 'Parte vacía: 5 > 4' }]);
  });
});

describe('HTTP gateway routes', () => {
  it('maps methods and paths to requests; other paths are not the gateway\'s', () => {
    expect(rutaDe('POST', '/operaciones')).toEqual({ tipo: 'cuerpo' });
    expect(rutaDe('GET', '/operaciones')).toEqual({ tipo: 'metodo', permitido: 'POST' });
    expect(rutaDe('GET', '/operaciones/abc%3A1')).toEqual({ tipo: 'solicitud', solicitud: { operacion: 'estado', id: 'abc:1' } });
    expect(rutaDe('GET', '/libros/978-1')).toEqual({ tipo: 'solicitud', solicitud: { operacion: 'consulta', isbn: '978-1' } });
    expect(rutaDe('DELETE', '/libros/978-1')).toEqual({ tipo: 'metodo', permitido: 'GET' });
    expect(rutaDe('GET', '/libros/%zz')).toEqual({ tipo: 'mal-codificada' });
    // A trailing slash is the collection, not an empty id: POST takes the body, GET is told to POST.
    expect(rutaDe('POST', '/operaciones/')).toEqual({ tipo: 'cuerpo' });
    expect(rutaDe('GET', '/operaciones/')).toEqual({ tipo: 'metodo', permitido: 'POST' });
    // An empty isbn names no route (404 listing them); validation is the request's for any other value.
    expect(rutaDe('GET', '/libros/')).toBeUndefined();
    expect(rutaDe('GET', '/libros/%20')).toEqual({ tipo: 'solicitud', solicitud: { operacion: 'consulta', isbn: ' ' } });
    expect(rutaDe('GET', '/libros/a/b')).toBeUndefined();
    expect(rutaDe('GET', '/status')).toBeUndefined();
    expect(rutaDe('GET', '/errors/stats')).toBeUndefined();
  });
});

describe('actor configuration', () => {
  it('calculo is an actor type of its own: alone in ACTOR_TIPOS (or ACTOR_TIPO), never mixed with library types', () => {
    expect(readConfig(ACTOR_VARS, { ACTOR_TIPO: 'calculo' }).ACTOR_TIPOS).toEqual(['calculo']);
    expect(readConfig(ACTOR_VARS, { ACTOR_TIPOS: 'calculo' }).ACTOR_TIPOS).toEqual(['calculo']);
    expect(() => readConfig(ACTOR_VARS, { ACTOR_TIPOS: 'prestamo,calculo' })).toThrowError(/ACTOR_TIPOS: calculo runs in an actor process of its own/);
  });
});
