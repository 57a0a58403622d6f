/**
 * The GA's reading of a request frame (storage client → GA): one request or a
 * batch of them, each validated against gaRequestSchema (internal.ts). Every item
 * gets a ParsedRequest, so each invalid one is answered SOLICITUD_INVALIDA by its
 * ref when it still has one. Pure: the GA (gestor_almacenamiento/ga.ts) feeds it
 * raw frames, tests feed it bytes.
 */
import { MAX_BATCH_BYTES, MAX_BATCH_ITEMS, readFrame, type FrameDefect } from './frame.js';
import { gaRequestSchema, salvageRef, type GaRequest } from './internal.js';

/** GA requests are a few hundred bytes, a batch of them up to MAX_BATCH_BYTES; anything bigger is not ours. */
export const MAX_GA_REQUEST_BYTES = MAX_BATCH_BYTES;

export type ParsedRequest = { ok: true; req: GaRequest } | { ok: false; ref: string; mensaje: string };

function defectMessage(d: FrameDefect): string {
  switch (d.kind) {
    case 'missing':
    case 'empty':
      return 'Solicitud vacía';
    case 'too-big':
      return `Solicitud demasiado grande (${d.bytes} bytes; máximo ${MAX_GA_REQUEST_BYTES})`;
    case 'not-utf8':
      return 'La solicitud no es texto UTF-8 válido';
    case 'not-json':
      return 'La solicitud no es JSON válido';
    case 'batch-size':
      return `Lote de ${d.items} solicitudes (de 1 a ${MAX_BATCH_ITEMS})`;
  }
}

/** The requests of one frame: one, or a batch. */
export function parseGaRequests(body: Buffer | undefined): ParsedRequest[] {
  return readFrame(body, { schema: gaRequestSchema, maxBytes: MAX_GA_REQUEST_BYTES, batch: true, salvage: salvageRef }).map((m): ParsedRequest => {
    if (m.ok) return { ok: true, req: m.value };
    if (m.defect) return { ok: false, ref: '', mensaje: defectMessage(m.defect) };
    const issue = m.error.issues[0];
    const where = issue?.path.length ? ` en '${issue.path.join('.')}'` : '';
    return { ok: false, ref: m.salvaged ?? '', mensaje: `Solicitud inválida${where}: ${issue?.message ?? 'formato desconocido'}` };
  });
}
