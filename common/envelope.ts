/**
 * ROUTER sockets receive [identity, (empty delimiter if REQ), body…]. The envelope is
 * the identity plus, for a REQ peer, its delimiter; echoing it answers REQ and DEALER
 * peers alike. A request is ONE body frame: `parts` counts them so a multi-part
 * message can be refused instead of its first part being echoed back as if it were
 * part of the envelope (a REQ client would read its own frame as the reply).
 */
export function splitEnvelope(frames: Buffer[]): { envelope: Buffer[]; body: Buffer | undefined; parts: number } {
  // An empty frame is a delimiter only with a body after it: [identity, ''] is a DEALER's empty message.
  const delimiter = frames.findIndex((f, i) => i > 0 && i < frames.length - 1 && f.length === 0);
  const envelopeEnd = delimiter > 0 ? delimiter + 1 : Math.min(1, frames.length);
  const bodyFrames = frames.slice(envelopeEnd);
  return { envelope: frames.slice(0, envelopeEnd), body: bodyFrames[0], parts: bodyFrames.length };
}
