import { describe, expect, it } from 'vitest';
import { parseLine, parseLines, parseOperacion } from '../../solicitante/line-parser.js';

const ISBN = '978-84-376-0494-7';

describe('line parser', () => {
  it('parses every operation in long, short, accented and mixed-case forms', () => {
    const casos: Array<[string, string]> = [
      ['PRESTAMO', 'prestamo'], ['préstamo', 'prestamo'], ['Pres', 'prestamo'],
      ['DEVOLUCION', 'devolucion'], ['Devolución', 'devolucion'], ['devo', 'devolucion'],
      ['RENOVACION', 'renovacion'], ['renovación', 'renovacion'], ['RENO', 'renovacion'],
    ];
    for (const [palabra, op] of casos) {
      expect(parseLine(`${palabra} ${ISBN} u1`, 7)).toEqual({ tipo: 'solicitud', linea: 7, solicitud: { operacion: op, isbn: ISBN, usuario: 'u1' } });
    }
    expect(parseLine(`consulta ${ISBN}`, 1)).toEqual({ tipo: 'solicitud', linea: 1, solicitud: { operacion: 'consulta', isbn: ISBN } });
    expect(parseLine('ESTADO ps-1a2b-3', 2)).toEqual({ tipo: 'solicitud', linea: 2, solicitud: { operacion: 'estado', id: 'ps-1a2b-3' } });
    expect(parseOperacion('CONS')).toBe('consulta');
    expect(parseOperacion('prestar')).toBeUndefined();
  });

  it('accepts tabs, commas and semicolons as separators and strips trailing comments', () => {
    expect(parseLine(`\tPRESTAMO,${ISBN};u1   # comentario`, 3)).toMatchObject({ tipo: 'solicitud', solicitud: { operacion: 'prestamo', isbn: ISBN, usuario: 'u1' } });
  });

  it('skips blank and comment lines', () => {
    expect(parseLine('', 1)).toEqual({ tipo: 'vacia', linea: 1 });
    expect(parseLine('   ', 2)).toEqual({ tipo: 'vacia', linea: 2 });
    expect(parseLine('# PRESTAMO x y', 3)).toEqual({ tipo: 'vacia', linea: 3 });
  });

  it('reports bad lines with their line number', () => {
    const errores: Array<[string, RegExp]> = [
      ['PRESTAR 978-1 u1', /^operación desconocida 'PRESTAR'/],
      ['PRESTAMO 978-1', /^falta usuario/],
      ['DEVOLUCION', /^falta isbn/],
      ['RENOVACION 978-1 u1 extra', /^sobran campos/],
      ['CONSULTA 978-1 u1', /^sobran campos/],
      ['PRESTAMO 978/1 u1', /^isbn no válido '978\/1'/],
      ['PRESTAMO 978-1 -u', /^usuario no válido '-u': de 1 a 64 caracteres, .*empezando por letra o dígito$/],
      // What a binary file holds is shown escaped, and a long value cut with an ellipsis.
      ['\u0001\u001b[31mX 978-1 u1', /^operación desconocida '\\x01\\x1b\[31mX'/],
      [`PRESTAMO 978-1 ${'u'.repeat(65)}`, new RegExp(`^usuario no válido '${'u'.repeat(40)}…': de 1 a 64`)],
      ['ESTADO', /^falta id de operación/],
    ];
    for (const [linea, re] of errores) {
      const r = parseLine(linea, 4);
      expect(r, linea).toMatchObject({ tipo: 'error', linea: 4 });
      if (r.tipo === 'error') expect(r.mensaje).toMatch(re);
    }
  });

  it('numbers lines of a whole file from 1, CRLF included', () => {
    const r = parseLines(`# cabecera\r\nPRES ${ISBN} a\r\n\r\nMAL\r\nRENO ${ISBN} a\r\n`);
    expect(r.map((x) => [x.linea, x.tipo])).toEqual([
      [1, 'vacia'], [2, 'solicitud'], [3, 'vacia'], [4, 'error'], [5, 'solicitud'], [6, 'vacia'],
    ]);
  });
});
