/**
 * Closed-loop clients for end-to-end and drill tests: each loops préstamo →
 * renovación → devolución over a few shared books (so they contend), and
 * every reply is kept for the checks that follow.
 */
import type { Respuesta } from '../../common/protocol/ps-gc.js';
import type { TestSystem } from './system.js';

export interface WorkloadResult {
  replies: Respuesta[];
  /** Requests that got no reply at all after the client's retries. */
  unanswered: number;
  /** Claves answered ACEPTADO: each must end COMPLETADA or RECHAZADA. */
  accepted: string[];
}

export async function runWorkload(
  sys: TestSystem,
  o: { clients: number; durationMs: number; isbns: string[]; prefix: string; stopSignal?: { stop: boolean } },
): Promise<WorkloadResult> {
  const result: WorkloadResult = { replies: [], unanswered: 0, accepted: [] };
  const deadline = Date.now() + o.durationMs;
  const ops = ['prestamo', 'renovacion', 'devolucion'] as const;
  await Promise.all(
    Array.from({ length: o.clients }, async (_, i) => {
      const c = sys.client({ timeoutMs: 3000, retries: 5 });
      let n = 0;
      while (Date.now() < deadline && !o.stopSignal?.stop) {
        const isbn = o.isbns[(i + Math.floor(n / 3)) % o.isbns.length]!;
        const operacion = ops[n % 3]!;
        n++;
        try {
          const r = await c.send({ operacion, isbn, usuario: `${o.prefix}-${i}` });
          result.replies.push(r);
          if (r.codigo === 'ACEPTADO' && r.clave) result.accepted.push(r.clave);
        } catch {
          result.unanswered++;
        }
      }
    }),
  );
  return result;
}
