import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ACTOR_VARS, ConfigError, GA_VARS, GC_VARS, KNOWN_VARIABLES, PS_VARS, readConfig } from '../../common/config.js';
import { createLogger } from '../../common/logger.js';

describe('configuration contract', () => {
  it('.env.example documents exactly the variables the code knows', () => {
    const documented = readFileSync(new URL('../../.env.example', import.meta.url), 'utf8')
      .split('\n')
      .map((l) => /^([A-Z_][A-Z0-9_]*)=/.exec(l)?.[1])
      .filter((x): x is string => !!x);
    expect([...documented].sort()).toEqual([...KNOWN_VARIABLES].sort());
  });

  it('applies defaults and parses lists', () => {
    const c = readConfig(GC_VARS, { GA_ENDPOINTS: 'tcp://10.0.0.1:5570, tcp://10.0.0.2:5570', GC_MODO_DEVOLUCION: '' });
    expect(c.GA_ENDPOINTS).toEqual(['tcp://10.0.0.1:5570', 'tcp://10.0.0.2:5570']);
    expect(c.GC_MODO_DEVOLUCION).toBe('async');
    expect(c.GC_TASK_DEADLINE_MS).toBe(3000);
  });

  it('names the bad variable', () => {
    expect(() => readConfig(GC_VARS, { GC_MODO_PRESTAMO: 'maybe' })).toThrowError(ConfigError);
    expect(() => readConfig(GC_VARS, { GC_TASK_DEADLINE_MS: 'soon' })).toThrowError(/GC_TASK_DEADLINE_MS/);
    expect(() => readConfig(GC_VARS, { GA_ENDPOINTS: 'localhost' })).toThrowError(/GA_ENDPOINTS/);
  });

  it('refuses a delay past the largest timer (it would fire after 1 ms)', () => {
    expect(readConfig(GC_VARS, { GC_SYNC_TIMEOUT_MS: String(2 ** 31 - 1) }).GC_SYNC_TIMEOUT_MS).toBe(2 ** 31 - 1);
    expect(() => readConfig(GC_VARS, { GC_SYNC_TIMEOUT_MS: String(2 ** 31) })).toThrowError(/GC_SYNC_TIMEOUT_MS/);
  });

  it('refuses a death timeout that a live peer would cross between two beats', () => {
    expect(() => readConfig(GC_VARS, { ACTOR_HEARTBEAT_MS: '600', ACTOR_DEAD_MS: '1000' })).toThrowError(/ACTOR_DEAD_MS: must be at least 2 × ACTOR_HEARTBEAT_MS/);
    expect(readConfig(GC_VARS, { ACTOR_HEARTBEAT_MS: '500', ACTOR_DEAD_MS: '1000' }).ACTOR_DEAD_MS).toBe(1000);
    expect(() => readConfig(GA_VARS, { GA_HEARTBEAT_MS: '400' })).toThrowError(/GA_PEER_TIMEOUT_MS: must be at least 3 × GA_HEARTBEAT_MS/);
    expect(readConfig(GA_VARS, {}).GA_PEER_TIMEOUT_MS).toBe(1000);
    expect(() => readConfig(GA_VARS, { GA_HEARTBEAT_MS: '100', GA_PEER_TIMEOUT_MS: '300' })).toThrowError(/GA_PEER_TIMEOUT_MS: must be at least GA_HEARTBEAT_MS \+ 800 ms/);
  });

  it('a GC list replaced a one-endpoint variable: the old name still works as a one-element list, not both at once', () => {
    expect(readConfig(PS_VARS, {}).GC_ENDPOINTS).toEqual(['tcp://127.0.0.1:5555', 'tcp://127.0.1.2:5555']);
    expect(readConfig(PS_VARS, { GC_ENDPOINT: 'tcp://10.0.0.1:5555' }).GC_ENDPOINTS).toEqual(['tcp://10.0.0.1:5555']);
    expect(readConfig(PS_VARS, { GC_ENDPOINTS: 'tcp://10.0.0.2:5555,tcp://10.0.0.1:5555', GC_ENDPOINT: '' }).GC_ENDPOINTS).toEqual(['tcp://10.0.0.2:5555', 'tcp://10.0.0.1:5555']);
    expect(() => readConfig(PS_VARS, { GC_ENDPOINTS: 'tcp://10.0.0.2:5555', GC_ENDPOINT: 'tcp://10.0.0.1:5555' })).toThrowError(/GC_ENDPOINT: set GC_ENDPOINTS or GC_ENDPOINT, not both/);
    expect(() => readConfig(PS_VARS, { GC_ENDPOINT: 'tcp://10.0.0.1,tcp://x:1' })).toThrowError(/^Invalid configuration: GC_ENDPOINT: /);
    const a = readConfig(ACTOR_VARS, { GC_PUB_ENDPOINT: 'tcp://10.0.0.1:5556', GC_BACKEND_ENDPOINT: 'tcp://10.0.0.1:5557' });
    expect([a.GC_PUB_ENDPOINTS, a.GC_BACKEND_ENDPOINTS]).toEqual([['tcp://10.0.0.1:5556'], ['tcp://10.0.0.1:5557']]);
  });

  it('an actor serves one type (ACTOR_TIPO) or several (ACTOR_TIPOS), each once, known ones only', () => {
    expect(readConfig(ACTOR_VARS, { ACTOR_TIPO: 'prestamo' }).ACTOR_TIPOS).toEqual(['prestamo']);
    expect(readConfig(ACTOR_VARS, { ACTOR_TIPOS: 'prestamo, devolucion,renovacion' }).ACTOR_TIPOS).toEqual(['prestamo', 'devolucion', 'renovacion']);
    expect(readConfig(ACTOR_VARS, {}).ACTOR_TIPOS).toBeUndefined();
    expect(() => readConfig(ACTOR_VARS, { ACTOR_TIPOS: 'prestamo,prestamo' })).toThrowError(/ACTOR_TIPOS: each type once/);
    expect(() => readConfig(ACTOR_VARS, { ACTOR_TIPOS: 'prestamo,consulta' })).toThrowError(/^Invalid configuration: ACTOR_TIPOS: /);
    expect(() => readConfig(ACTOR_VARS, { ACTOR_TIPOS: 'prestamo', ACTOR_TIPO: 'devolucion' })).toThrowError(/set ACTOR_TIPOS or ACTOR_TIPO, not both/);
  });

  it("an actor's GC lists pair up one by one: a missing backend is refused", () => {
    const env = { GC_PUB_ENDPOINTS: 'tcp://10.0.0.1:5556,tcp://10.0.0.2:5556', GC_BACKEND_ENDPOINTS: 'tcp://10.0.0.1:5557' };
    expect(() => readConfig(ACTOR_VARS, env)).toThrowError(/GC_BACKEND_ENDPOINTS: must list as many endpoints as GC_PUB_ENDPOINTS/);
    expect(readConfig(ACTOR_VARS, { ...env, GC_BACKEND_ENDPOINTS: 'tcp://10.0.0.1:5557,tcp://10.0.0.2:5557' }).GC_BACKEND_ENDPOINTS).toHaveLength(2);
  });

  it('PS_SEDE follows the protocol rule for sede, so a bad one fails at start', () => {
    expect(readConfig(PS_VARS, { PS_SEDE: 'Sede Norte' }).PS_SEDE).toBe('Sede Norte');
    expect(() => readConfig(PS_VARS, { PS_SEDE: 'Sede/Norte' })).toThrowError(/PS_SEDE/);
  });

  it('an empty or bad LOG_LEVEL does not crash the logger (the config check names it)', () => {
    const before = process.env.LOG_LEVEL;
    try {
      for (const v of ['', 'verbose']) {
        process.env.LOG_LEVEL = v;
        expect(createLogger('t').level).toBe('info');
      }
      process.env.LOG_LEVEL = 'warn';
      expect(createLogger('t').level).toBe('warn');
    } finally {
      if (before === undefined) delete process.env.LOG_LEVEL;
      else process.env.LOG_LEVEL = before;
    }
    expect(() => readConfig(GC_VARS, { LOG_LEVEL: 'verbose' })).toThrowError(/LOG_LEVEL/);
  });
});
