/** The ZAP decision (RFC 27), as a pure function: who gets in, what the reply frames say. */
import { describe, expect, it } from 'vitest';
import { newCurveKeyPair, z85Decode } from '../../common/curve-keys.js';
import { decideZap, parseZapRequest, zapReplyFrames, type ZapRequest } from '../../common/zap.js';

const allowed = newCurveKeyPair().publicKey;
const stranger = newCurveKeyPair().publicKey;
const allow = new Map([['ga#1', new Set([allowed])]]);

function request(o: Partial<ZapRequest> & { key?: string } = {}): ZapRequest {
  return {
    version: '1.0',
    requestId: Buffer.from('7'),
    domain: 'ga#1',
    address: '127.0.0.1',
    mechanism: 'CURVE',
    credentials: [z85Decode(o.key ?? allowed)],
    ...o,
  };
}

describe('ZAP decision', () => {
  it('lets in a CURVE client whose key is on the domain\'s list, naming it as the user id', () => {
    const d = decideZap(request(), allow);
    expect(d).toEqual({ status: '200', text: 'OK', clientKey: allowed });
    expect(zapReplyFrames(request(), d)).toEqual(['1.0', Buffer.from('7'), '200', 'OK', allowed, Buffer.alloc(0)]);
  });

  it('refuses a key that is not on the list, and reports which key it was', () => {
    const d = decideZap(request({ key: stranger }), allow);
    expect(d).toMatchObject({ status: '400', clientKey: stranger });
    expect(zapReplyFrames(request(), d)[4]).toBe('');
  });

  it('refuses a known key on another socket\'s domain, and on a domain nobody registered', () => {
    const two = new Map([...allow, ['gc-backend#2', new Set([stranger])]]);
    expect(decideZap(request({ domain: 'gc-backend#2' }), two).status).toBe('400');
    expect(decideZap(request({ domain: 'nadie#9' }), allow)).toMatchObject({ status: '400', text: expect.stringMatching(/dominio ZAP desconocido/) });
  });

  it('refuses other mechanisms and malformed credentials; answers 500 to an unknown ZAP version', () => {
    expect(decideZap(request({ mechanism: 'NULL', credentials: [] }), allow).status).toBe('400');
    expect(decideZap(request({ mechanism: 'PLAIN', credentials: [Buffer.from('u'), Buffer.from('p')] }), allow).status).toBe('400');
    expect(decideZap(request({ credentials: [Buffer.alloc(31)] }), allow)).toMatchObject({ status: '400', text: 'credenciales CURVE mal formadas' });
    expect(decideZap(request({ credentials: [z85Decode(allowed), z85Decode(allowed)] }), allow).status).toBe('400');
    expect(decideZap(request({ version: '2.0' }), allow).status).toBe('500');
  });

  it('parses the frames libzmq sends, and nothing shorter', () => {
    const frames = ['1.0', '42', 'ga#1', '10.0.0.5', '', 'CURVE'].map((s) => Buffer.from(s));
    const r = parseZapRequest([...frames, z85Decode(allowed)]);
    expect(r).toMatchObject({ version: '1.0', domain: 'ga#1', address: '10.0.0.5', mechanism: 'CURVE' });
    expect(r!.requestId.toString()).toBe('42');
    expect(decideZap(r!, allow).status).toBe('200');
    expect(parseZapRequest(frames.slice(0, 5))).toBeUndefined();
  });
});
