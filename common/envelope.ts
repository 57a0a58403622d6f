/**
 * ROUTER sockets receive [identity, (empty delimiter if REQ), body]. Echoing every
 * frame before the body answers REQ and DEALER peers alike.
 */
export function splitEnvelope(frames: Buffer[]): { envelope: Buffer[]; body: Buffer | undefined } {
  if (frames.length < 2) return { envelope: frames, body: undefined };
  return { envelope: frames.slice(0, -1), body: frames[frames.length - 1] };
}
