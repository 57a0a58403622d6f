/** The CURVE settings as common/config.ts validates them: what ZMQ_CURVE=on requires, key files, lists that pair up. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ACTOR_VARS, GA_VARS, GC_VARS, readConfig } from '../../common/config.js';
import { newCurveKeyPair } from '../../common/curve-keys.js';
import { SocketSecurity, socketSecurityFromConfig } from '../../common/socket-security.js';
import { Dealer, Router } from 'zeromq';
import { freePorts } from '../harness/ports.js';

const dir = mkdtempSync(join(tmpdir(), 'config-curve-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const [gc, ga, actor, intruso] = [newCurveKeyPair(), newCurveKeyPair(), newCurveKeyPair(), newCurveKeyPair()];

describe('CURVE configuration', () => {
  it('is off by default, and then needs no keys', () => {
    expect(readConfig(GC_VARS, {}).ZMQ_CURVE).toBe('off');
    expect(socketSecurityFromConfig(readConfig(GA_VARS, {})).enabled).toBe(false);
  });

  it('on, names the first missing key of each process', () => {
    expect(() => readConfig(GC_VARS, { ZMQ_CURVE: 'on' })).toThrowError(/ZMQ_CURVE_SECRET_KEY: required \(or ZMQ_CURVE_SECRET_KEY_FILE\) when ZMQ_CURVE=on/);
    expect(() => readConfig(GC_VARS, { ZMQ_CURVE: 'on', ZMQ_CURVE_SECRET_KEY: gc.secretKey })).toThrowError(/^Invalid configuration: GC_CURVE_CLIENTS: required/);
    expect(() => readConfig(ACTOR_VARS, { ZMQ_CURVE: 'on', ZMQ_CURVE_SECRET_KEY: actor.secretKey, GA_CURVE_SERVER_KEYS: ga.publicKey })).toThrowError(/GC_CURVE_SERVER_KEYS: required/);
    // The peer key only in a pair.
    expect(readConfig(GA_VARS, { ZMQ_CURVE: 'on', ZMQ_CURVE_SECRET_KEY: ga.secretKey, GA_CURVE_CLIENTS: gc.publicKey }).GA_PEER_CURVE_KEY).toBeUndefined();
    expect(() => readConfig(GA_VARS, { ZMQ_CURVE: 'on', ZMQ_CURVE_SECRET_KEY: ga.secretKey, GA_CURVE_CLIENTS: gc.publicKey, GA_PEER_ENDPOINT: 'tcp://10.0.0.2:5571' })).toThrowError(/GA_PEER_CURVE_KEY: required/);
  });

  it('a bad key is named, and a secret is never echoed', () => {
    const bad = `${gc.secretKey.slice(0, 39)} `;
    let message = '';
    try {
      readConfig(GC_VARS, { ZMQ_CURVE: 'on', ZMQ_CURVE_SECRET_KEY: bad });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/^Invalid configuration: ZMQ_CURVE_SECRET_KEY: character " " at 39/);
    expect(message).not.toContain(gc.secretKey.slice(0, 39));
    expect(() => readConfig(GC_VARS, { GC_CURVE_CLIENTS: `${actor.publicKey},nokey` })).toThrowError(/GC_CURVE_CLIENTS: a CURVE key is 40 Z85 characters, got 5/);
  });

  it('reads the secret key from a file, trimmed; not both forms; an unreadable file is named', () => {
    const file = join(dir, 'gc.key');
    writeFileSync(file, `${gc.secretKey}\n`, { mode: 0o600 });
    const env = { ZMQ_CURVE: 'on', ZMQ_CURVE_SECRET_KEY_FILE: file, GC_CURVE_CLIENTS: actor.publicKey, GA_CURVE_SERVER_KEYS: ga.publicKey };
    expect(readConfig(GC_VARS, env).ZMQ_CURVE_SECRET_KEY).toBe(gc.secretKey);
    expect(() => readConfig(GC_VARS, { ...env, ZMQ_CURVE_SECRET_KEY: gc.secretKey })).toThrowError(/ZMQ_CURVE_SECRET_KEY_FILE: set ZMQ_CURVE_SECRET_KEY or ZMQ_CURVE_SECRET_KEY_FILE, not both/);
    expect(() => readConfig(GC_VARS, { ...env, ZMQ_CURVE_SECRET_KEY_FILE: join(dir, 'missing.key') })).toThrowError(/ZMQ_CURVE_SECRET_KEY_FILE: cannot read .*missing\.key: ENOENT/);
    writeFileSync(join(dir, 'bad.key'), 'nonsense');
    expect(() => readConfig(GC_VARS, { ...env, ZMQ_CURVE_SECRET_KEY_FILE: join(dir, 'bad.key') })).toThrowError(/ZMQ_CURVE_SECRET_KEY_FILE \(.*bad\.key\): a CURVE key is 40/);
  });

  it('PGPASSWORD may come from a file too (a mounted secret)', () => {
    const file = join(dir, 'pg.pw');
    writeFileSync(file, 's3cr3t:con:dos-puntos\n', { mode: 0o600 });
    expect(readConfig(GA_VARS, { PGPASSWORD_FILE: file }).PGPASSWORD).toBe('s3cr3t:con:dos-puntos');
    expect(() => readConfig(GA_VARS, { PGPASSWORD_FILE: file, PGPASSWORD: 'x' })).toThrowError(/PGPASSWORD_FILE: set PGPASSWORD or PGPASSWORD_FILE, not both/);
  });

  it('server keys pair up with their endpoints, one per GA or GC in the same order', () => {
    const base = { ZMQ_CURVE: 'on', ZMQ_CURVE_SECRET_KEY: actor.secretKey, GC_CURVE_SERVER_KEYS: gc.publicKey };
    expect(() => readConfig(ACTOR_VARS, { ...base, GA_ENDPOINTS: 'tcp://10.0.0.1:5570,tcp://10.0.0.2:5570', GA_CURVE_SERVER_KEYS: ga.publicKey })).toThrowError(
      /GA_CURVE_SERVER_KEYS: must list as many keys as GA_ENDPOINTS has endpoints \(one per GA, in the same order\): 1 vs 2/,
    );
    const cfg = readConfig(ACTOR_VARS, { ...base, GA_ENDPOINTS: 'tcp://10.0.0.1:5570', GA_CURVE_SERVER_KEYS: ga.publicKey, GC_PUB_ENDPOINT: 'tcp://10.0.0.1:5556', GC_BACKEND_ENDPOINT: 'tcp://10.0.0.1:5557' });
    const sec = socketSecurityFromConfig(cfg);
    expect(sec.publicKey).toBe(actor.publicKey);
    expect(sec.client('tcp://10.0.0.1:5570')).toEqual({ curveSecretKey: actor.secretKey, curvePublicKey: actor.publicKey, curveServerKey: ga.publicKey });
    expect(sec.client('tcp://10.0.0.1:5557').curveServerKey).toBe(gc.publicKey);
    expect(sec.client('tcp://10.0.0.1:5556').curveServerKey).toBe(gc.publicKey);
    expect(() => sec.client('tcp://10.0.0.9:5570')).toThrowError(/no server public key is configured for tcp:\/\/10.0.0.9:5570/);
  });

  it('a server socket gets options only once its ZAP domain is registered, and only with an allow-list', async () => {
    const sec = socketSecurityFromConfig(readConfig(GA_VARS, { ZMQ_CURVE: 'on', ZMQ_CURVE_SECRET_KEY: ga.secretKey, GA_CURVE_CLIENTS: gc.publicKey }));
    expect(() => sec.server('ga')).toThrowError(/start\(\) must complete/);
    await sec.start();
    try {
      expect(sec.server('ga')).toEqual({ curveServer: true, curveSecretKey: ga.secretKey, zapDomain: expect.stringMatching(/^ga#\d+$/), zapEnforceDomain: true });
      expect(() => sec.server('gc-pub')).toThrowError(/the gc-pub socket has no allow-list/);
    } finally {
      await sec.close();
    }
    expect(SocketSecurity.off().server('ga')).toEqual({});
    expect(SocketSecurity.off().client('tcp://x:1')).toEqual({});
  });
});

describe('CURVE server sockets without their ZAP handler', () => {
  it('admit nobody: a server socket outliving its SocketSecurity (handler gone) does not fall back to admitting any key', async () => {
    const [port] = await freePorts(1);
    const ep = `tcp://127.0.0.1:${port}`;
    const sec = await new SocketSecurity({ secretKey: ga.secretKey, clients: { ga: [gc.publicKey] } }).start();
    const server = new Router({ linger: 0, ...sec.server('ga') });
    const intruder = new Dealer({ linger: 0, receiveTimeout: 1500, curveSecretKey: intruso.secretKey, curvePublicKey: intruso.publicKey, curveServerKey: ga.publicKey });
    try {
      await server.bind(ep);
      void (async () => {
        for await (const [id, msg] of server) await server.send([id!, `echo:${msg!.toString()}`]);
      })().catch(() => undefined);
      await sec.close(); // the handler goes away; the socket stays
      intruder.connect(ep);
      await intruder.send('x');
      await expect(intruder.receive()).rejects.toThrow(/timed out|EAGAIN/i);
    } finally {
      intruder.close();
      server.close();
    }
  });
});
