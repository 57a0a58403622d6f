/** A writable stream that keeps what is written to it: a CLI's stdout or stderr in a test. */
import { PassThrough } from 'node:stream';

export function sink(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (d: Buffer) => (text += d.toString()));
  return { stream, text: () => text };
}
