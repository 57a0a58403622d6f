/** A storage client with no GA behind it: every préstamo applies once, queries answer. For GC/actor socket tests. */
import type { StorageClient } from '../../common/storage-client.js';
import type { OperacionSolicitada, Resultado } from '../../common/protocol/ps-gc.js';

export function stubStorage(): StorageClient & { applied: Map<string, Resultado> } {
  const applied = new Map<string, Resultado>();
  const res = (op: OperacionSolicitada): Resultado => ({ id: op.id, operacion: op.operacion, estado: 'COMPLETADA', exito: true, codigo: 'APROBADO', mensaje: 'ok', datos: {}, fechaOperacion: new Date().toISOString() });
  const now = () => new Date().toISOString();
  return {
    applied,
    async call() {
      throw new Error('not used');
    },
    async aplicar(op) {
      if (!applied.has(op.id)) applied.set(op.id, res(op));
      return applied.get(op.id)!;
    },
    async registrar(op) {
      return { ...res(op), estado: 'PENDIENTE', codigo: 'ACEPTADO' };
    },
    async consultar(isbn, opId) {
      return { id: opId, exito: true, codigo: 'OK', mensaje: 'consulta', datos: { isbn, disponibles: 1 }, fechaOperacion: now() } as Resultado;
    },
    async consultarTitulo(titulo, opId) {
      return { id: opId, exito: false, codigo: 'LIBRO_NO_EXISTE', mensaje: 'consulta', datos: { titulo }, fechaOperacion: now() } as Resultado;
    },
    async estado(id) {
      return applied.get(id) ?? ({ id, exito: false, codigo: 'OPERACION_NO_ENCONTRADA', mensaje: 'no', datos: {}, fechaOperacion: now() } as Resultado);
    },
    async pendientes() {
      return [];
    },
    async reclamar() {
      return { pendientes: [], gestores: [] };
    },
    status: () => [],
    fencing: () => undefined,
    async close() {},
  } as StorageClient & { applied: Map<string, Resultado> };
}
