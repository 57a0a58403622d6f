/** npm start's sistema.json as the commands that use the running system read it. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NoRunningSystemError, readRunningSystem, SYSTEM_FILE } from '../../scripts/launcher/system-file.js';

const dir = mkdtempSync(join(tmpdir(), 'sistema-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('readRunningSystem', () => {
  it('a missing, truncated or wrong-shaped file is "no system running", said with the reason', () => {
    expect(() => readRunningSystem(dir)).toThrow(NoRunningSystemError);
    writeFileSync(join(dir, SYSTEM_FILE), '{"pg": {"host": "127.0');
    expect(() => readRunningSystem(dir)).toThrow(new NoRunningSystemError(`no hay un sistema de npm start en marcha sobre ${dir} (${SYSTEM_FILE} ilegible (no es JSON)): arránquelo con npm start (y --data si usa otro directorio)`));
    writeFileSync(join(dir, SYSTEM_FILE), '{"otra": "cosa"}');
    expect(() => readRunningSystem(dir)).toThrow(/ilegible\)/);
  });
});
