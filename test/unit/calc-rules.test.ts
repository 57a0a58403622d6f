/** The arithmetic of the calculations (common/calculo.ts), as the actors run it. */
import { describe, expect, it } from 'vitest';
import { MAX_EXACTO, TROZO, evaluarSimple, sumaCuadradosFormula, sumaCuadradosRango, sumarLista } from '../../common/calculo.js';
import { MAX_N_SUMA_CUADRADOS } from '../../common/protocol/calc.js';

/** The obvious definition, for small ranges. */
function naive(a: number, b: number): bigint {
  let s = 0n;
  for (let i = BigInt(a); i <= BigInt(b); i++) s += i * i;
  return s;
}

describe('simple calculations', () => {
  it('compute in double precision', () => {
    expect(evaluarSimple({ operacion: 'suma', a: 10, b: 5 })).toEqual({ codigo: 'OK', valor: 15 });
    expect(evaluarSimple({ operacion: 'resta', a: 10, b: 5 })).toEqual({ codigo: 'OK', valor: 5 });
    expect(evaluarSimple({ operacion: 'multiplicacion', a: -3, b: 2.5 })).toEqual({ codigo: 'OK', valor: -7.5 });
    expect(evaluarSimple({ operacion: 'division', a: 10, b: 4 })).toEqual({ codigo: 'OK', valor: 2.5 });
    expect(evaluarSimple({ operacion: 'eco', texto: 'Hola, ñandú' })).toEqual({ codigo: 'OK', valor: 'Hola, ñandú' });
    expect(evaluarSimple({ operacion: 'mayusculas', texto: 'árbol straße' })).toEqual({ codigo: 'OK', valor: 'ÁRBOL STRASSE' });
    expect(evaluarSimple({ operacion: 'sumar_lista', numeros: [1, 2, 3.5, -0.5] })).toEqual({ codigo: 'OK', valor: 6 });
    expect(evaluarSimple({ operacion: 'sumar_lista', numeros: [] })).toEqual({ codigo: 'OK', valor: 0 });
  });

  it('division by zero (also -0 and 0/0) has its own code', () => {
    for (const [a, b] of [[1, 0], [1, -0], [0, 0], [-5, 0]] as const) {
      expect(evaluarSimple({ operacion: 'division', a, b })).toMatchObject({ codigo: 'DIVISION_POR_CERO' });
    }
  });

  it('a result beyond a double is FUERA_DE_RANGO, never Infinity (JSON would carry null)', () => {
    expect(evaluarSimple({ operacion: 'multiplicacion', a: 1e308, b: 10 })).toMatchObject({ codigo: 'FUERA_DE_RANGO' });
    expect(evaluarSimple({ operacion: 'suma', a: 1.7e308, b: 1.7e308 })).toMatchObject({ codigo: 'FUERA_DE_RANGO' });
    expect(evaluarSimple({ operacion: 'division', a: 1e308, b: 1e-308 })).toMatchObject({ codigo: 'FUERA_DE_RANGO' });
    expect(evaluarSimple({ operacion: 'sumar_lista', numeros: [1.7e308, 1.7e308] })).toMatchObject({ codigo: 'FUERA_DE_RANGO' });
  });
});

describe('sumar_lista: compensated sum', () => {
  it('keeps the low-order bits a left-to-right sum loses', () => {
    expect(sumarLista([1e16, 1, -1e16])).toEqual({ codigo: 'OK', valor: 1 });
    expect(sumarLista([1, 1e100, 1, -1e100])).toEqual({ codigo: 'OK', valor: 2 });
    expect(sumarLista(Array(1000).fill(0.1))).toEqual({ codigo: 'OK', valor: 100 });
  });

  it('a running sum past a double is no error when the total fits', () => {
    expect(sumarLista([1.7e308, 1.7e308, -1.7e308])).toEqual({ codigo: 'OK', valor: 1.7e308 });
    expect(sumarLista([-Number.MAX_VALUE, -Number.MAX_VALUE, Number.MAX_VALUE, 1])).toEqual({ codigo: 'OK', valor: -Number.MAX_VALUE });
    expect(sumarLista([...Array(500).fill(Number.MAX_VALUE), ...Array(499).fill(-Number.MAX_VALUE)])).toEqual({ codigo: 'OK', valor: Number.MAX_VALUE });
  });

  it('a total that does not fit is FUERA_DE_RANGO, with its magnitude', () => {
    expect(sumarLista([1.7e308, 1.7e308])).toEqual({
      codigo: 'FUERA_DE_RANGO',
      mensaje: `sumar_lista: la suma es 3.4e+308, fuera de lo que cabe en un número de doble precisión (±${Number.MAX_VALUE})`,
    });
    expect(sumarLista(Array(1000).fill(-Number.MAX_VALUE))).toMatchObject({ codigo: 'FUERA_DE_RANGO', mensaje: expect.stringMatching(/la suma es -1.8e\+311,/) });
    // Past the largest double by less than half its last place rounds to it; by more, it does not fit.
    expect(sumarLista([Number.MAX_VALUE, 2 ** 969])).toEqual({ codigo: 'OK', valor: Number.MAX_VALUE });
    expect(sumarLista([Number.MAX_VALUE, 2 ** 970])).toMatchObject({ codigo: 'FUERA_DE_RANGO' });
  });
});

describe('sum of squares', () => {
  it('the closed formula agrees with the definition', () => {
    for (const [a, b] of [[1, 1], [1, 9], [4, 6], [7, 9], [1, 1000], [999, 2500]] as const) expect(sumaCuadradosFormula(a, b)).toBe(naive(a, b));
    expect(sumaCuadradosFormula(1, 9)).toBe(285n);
  });

  it('the actors\' loop is exact: across chunk boundaries and at the top of the range, where the sum outgrows 2^53', async () => {
    const none = async () => undefined;
    for (const [a, b] of [[1, 1], [1, 9], [5, 5], [1, TROZO + 1], [TROZO - 3, TROZO + 3], [123_456, 654_321]] as const) {
      expect(await sumaCuadradosRango(a, b, none), `${a}..${b}`).toBe(naive(a, b));
    }
    // Large squares: each near 2.5e15, sums far past Number.MAX_SAFE_INTEGER.
    const hi = [MAX_N_SUMA_CUADRADOS - 3_000_000, MAX_N_SUMA_CUADRADOS] as const;
    const r = await sumaCuadradosRango(hi[0], hi[1], none);
    expect(r).toBe(sumaCuadradosFormula(hi[0], hi[1]));
    expect(r > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);
    // And the last squares a double holds exactly.
    expect(await sumaCuadradosRango(MAX_EXACTO - 10, MAX_EXACTO, none)).toBe(naive(MAX_EXACTO - 10, MAX_EXACTO));
  });

  it('pauses before every chunk (heartbeats keep flowing during a long part)', async () => {
    let pauses = 0;
    await sumaCuadradosRango(1, 3 * TROZO, async () => void pauses++);
    expect(pauses).toBe(3);
  });

  it('refuses ranges it cannot do exactly', async () => {
    await expect(sumaCuadradosRango(0, 5)).rejects.toThrow(RangeError);
    await expect(sumaCuadradosRango(6, 5)).rejects.toThrow(RangeError);
    await expect(sumaCuadradosRango(1, MAX_EXACTO + 1)).rejects.toThrow(RangeError);
    await expect(sumaCuadradosRango(1.5, 5)).rejects.toThrow(RangeError);
  });
});
