/**
 * CURVE key material: the 40-character Z85 text form ZeroMQ uses for its
 * 32-byte Curve25519 keys (ZeroMQ RFC 32), validation, public-from-secret
 * derivation and new key pairs. Pure except for `newCurveKeyPair` (randomness).
 *
 * Why Z85 by hand: it is a fixed 20-line spec; zeromq.js does not export
 * libzmq's zmq_z85_encode/decode, and the npm packages are either unmaintained
 * (`z85` 0.0.2) or pull in unrelated dependencies (`base85` → ip-address).
 * Keys are made and the public key derived with Node's own X25519 (the same
 * scalar multiplication libzmq's crypto_box keypair does; a test checks both
 * against zeromq.curveKeyPair()), so a deployment passes one secret per process
 * and a public key can never disagree with its secret, and config code that
 * validates keys loads no native addon.
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { z } from './protocol/zod.js';

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
const DECODE = new Map([...ALPHABET].map((c, i) => [c, i]));

/** Z85 text of a key: 40 characters. */
export const CURVE_KEY_CHARS = 40;

export class Z85Error extends Error {
  override name = 'Z85Error';
}

/** Z85-encodes bytes (length a multiple of 4). */
export function z85Encode(bytes: Uint8Array): string {
  if (bytes.length % 4 !== 0) throw new Z85Error(`Z85 encodes multiples of 4 bytes, got ${bytes.length}`);
  let out = '';
  for (let i = 0; i < bytes.length; i += 4) {
    let v = ((bytes[i]! << 24) >>> 0) + (bytes[i + 1]! << 16) + (bytes[i + 2]! << 8) + bytes[i + 3]!;
    const chunk: string[] = [];
    for (let k = 0; k < 5; k++) {
      chunk.unshift(ALPHABET[v % 85]!);
      v = Math.floor(v / 85);
    }
    out += chunk.join('');
  }
  return out;
}

/** Decodes Z85 text (length a multiple of 5); throws Z85Error naming the defect. */
export function z85Decode(text: string): Buffer {
  if (text.length % 5 !== 0) throw new Z85Error(`Z85 text has a length that is a multiple of 5, got ${text.length}`);
  const out = Buffer.alloc((text.length / 5) * 4);
  for (let i = 0; i < text.length; i += 5) {
    let v = 0;
    for (let k = 0; k < 5; k++) {
      const d = DECODE.get(text[i + k]!);
      if (d === undefined) throw new Z85Error(`character ${JSON.stringify(text[i + k])} at ${i + k} is not in the Z85 alphabet`);
      v = v * 85 + d;
    }
    if (v > 0xffffffff) throw new Z85Error(`group at ${i} ("${text.slice(i, i + 5)}") is over 2^32`);
    out.writeUInt32BE(v, (i / 5) * 4);
  }
  return out;
}

/** Why `text` is not a Z85 CURVE key, or undefined if it is one. */
export function curveKeyProblem(text: string): string | undefined {
  if (text.length !== CURVE_KEY_CHARS) return `a CURVE key is ${CURVE_KEY_CHARS} Z85 characters, got ${text.length}`;
  try {
    z85Decode(text);
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** A Z85 CURVE key (public or secret), as config and the key files hold it. */
export const curveKeySchema = z.string().superRefine((s, ctx) => {
  const problem = curveKeyProblem(s);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

// DER of a PKCS#8 X25519 private key up to its 32 key bytes (RFC 8410).
const PKCS8_X25519_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

/** The public key of a Z85 secret key (X25519 scalar multiplication of the base point). */
export function curvePublicKey(secretKey: string): string {
  const problem = curveKeyProblem(secretKey);
  if (problem) throw new Z85Error(problem);
  const priv = createPrivateKey({ key: Buffer.concat([PKCS8_X25519_PREFIX, z85Decode(secretKey)]), format: 'der', type: 'pkcs8' });
  const spki = createPublicKey(priv).export({ format: 'der', type: 'spki' });
  return z85Encode(spki.subarray(spki.length - 32));
}

export interface CurveKeyPair {
  publicKey: string;
  secretKey: string;
}

/** A fresh key pair (Node's X25519: the same curve and encoding as libzmq's zmq_curve_keypair). */
export function newCurveKeyPair(): CurveKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('x25519');
  const secret = privateKey.export({ format: 'der', type: 'pkcs8' });
  const pub = publicKey.export({ format: 'der', type: 'spki' });
  return { publicKey: z85Encode(pub.subarray(pub.length - 32)), secretKey: z85Encode(secret.subarray(secret.length - 32)) };
}

/** A short, log-safe name of a public key: its first 8 characters. */
export function keyLabel(publicKey: string): string {
  return `${publicKey.slice(0, 8)}…`;
}
