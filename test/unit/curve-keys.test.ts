/** Key material: Z85 (RFC 32 vector, round trips, every defect named) and X25519 keys that libzmq agrees with. */
import { describe, expect, it } from 'vitest';
import { curveKeyPair } from 'zeromq';
import { curveKeyProblem, curveKeySchema, curvePublicKey, newCurveKeyPair, z85Decode, z85Encode, Z85Error } from '../../common/curve-keys.js';

describe('Z85', () => {
  it('encodes and decodes the RFC 32 test vector', () => {
    const bytes = Buffer.from([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]);
    expect(z85Encode(bytes)).toBe('HelloWorld');
    expect(z85Decode('HelloWorld')).toEqual(bytes);
  });

  it('round-trips any bytes, including the extremes of a group', () => {
    for (const b of [Buffer.alloc(32, 0), Buffer.alloc(32, 0xff), Buffer.from(Array.from({ length: 32 }, (_, i) => i * 8))]) {
      const text = z85Encode(b);
      expect(text).toHaveLength(40);
      expect(z85Decode(text)).toEqual(b);
    }
  });

  it('names what is wrong: length, alphabet, a group over 2^32', () => {
    expect(() => z85Encode(Buffer.alloc(3))).toThrowError(Z85Error);
    expect(() => z85Decode('abc')).toThrowError(/multiple of 5, got 3/);
    expect(() => z85Decode('Hello Worl')).toThrowError(/character " " at 5/);
    expect(() => z85Decode('#####')).toThrowError(/over 2\^32/);
  });
});

describe('CURVE keys', () => {
  it('derives the public key libzmq made for a secret key', () => {
    for (let i = 0; i < 50; i++) {
      const { publicKey, secretKey } = curveKeyPair();
      expect(curvePublicKey(secretKey)).toBe(publicKey);
    }
  });

  it('makes key pairs whose public key is the secret key\'s', () => {
    const a = newCurveKeyPair();
    const b = newCurveKeyPair();
    expect(a.secretKey).not.toBe(b.secretKey);
    expect(curvePublicKey(a.secretKey)).toBe(a.publicKey);
    expect(curveKeyProblem(a.publicKey)).toBeUndefined();
  });

  it('refuses what is not a key, saying why', () => {
    expect(curveKeyProblem('short')).toMatch(/40 Z85 characters, got 5/);
    expect(curveKeyProblem('x'.repeat(39) + ' ')).toMatch(/not in the Z85 alphabet/);
    expect(curveKeyProblem('#'.repeat(40))).toMatch(/over 2\^32/);
    expect(curveKeySchema.safeParse('x'.repeat(41)).success).toBe(false);
    expect(() => curvePublicKey('not a key')).toThrowError(Z85Error);
  });
});
