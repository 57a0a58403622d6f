import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, GC_VARS, KNOWN_VARIABLES, readConfig } from '../common/config.js';

describe('configuration contract', () => {
  it('.env.example documents exactly the variables the code knows', () => {
    const documented = readFileSync(new URL('../.env.example', import.meta.url), 'utf8')
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
});
