/** solicitante/resend.ts: "not applied" is only certain for a clave sent once. */
import { describe, expect, it } from 'vitest';
import { afterResend } from '../../solicitante/resend.js';
import { errorReply, type Respuesta } from '../../common/protocol/ps-gc.js';

const ok: Respuesta = { exito: true, codigo: 'APROBADO', mensaje: 'ok', datos: { isbn: '978-1' }, fechaOperacion: '', id: 'k' };

describe('afterResend', () => {
  it('sent once: every reply as it came', () => {
    const r = errorReply('SIN_ACTORES', undefined, 'k');
    expect(afterResend(r, 1)).toBe(r);
    expect(afterResend(ok, 1)).toBe(ok);
  });

  it('sent again: "not applied" becomes "unknown, ask estado", keeping what the GC said; other replies stay', () => {
    for (const codigo of ['SIN_ACTORES', 'ALMACENAMIENTO_NO_DISPONIBLE'] as const) {
      expect(afterResend(errorReply(codigo, undefined, 'k', { x: 1 }), 2)).toMatchObject({ exito: false, codigo: 'TIEMPO_AGOTADO', id: 'k', datos: { x: 1, codigoRecibido: codigo } });
    }
    expect(afterResend(ok, 3)).toBe(ok);
    const refused = errorReply('SIN_EJEMPLARES', undefined, 'k');
    expect(afterResend(refused, 2)).toBe(refused);
  });
});
