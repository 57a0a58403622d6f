/**
 * The launcher's two-host storage started again on a data dir it used before: on
 * another port (a start with --puertos-libres after one without, or the other way
 * round), and after a first start cut short (the application database never made, the
 * standby's clone never finished). Real PostgreSQL nodes on 127.0.1.1 and 127.0.1.2.
 */
import { existsSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { pgRole } from '../../postgres/admin.js';
import { killNode, startNode, stopNode } from '../../postgres/lifecycle.js';
import { freePortOnAll, PC1, PC2 } from '../../scripts/launcher/hosts.js';
import { startTwoHostStorage, type LocalStorage } from '../../scripts/launcher/local-storage.js';

const dir = mkdtempSync(join(tmpdir(), 'storage-reuse-'));
const net = { pc1: { address: PC1 }, pc2: { address: PC2 } };
const pc1Dir = join(dir, 'pc1', 'pg');
const pc2Dir = join(dir, 'pc2', 'pg');
let storage: LocalStorage | undefined;

afterAll(async () => {
  await storage?.stop().catch(() => undefined);
  for (const d of [pc1Dir, pc2Dir]) await killNode(d);
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

async function rows(port: number, sql: string, host = PC1, database = 'biblioteca'): Promise<unknown[]> {
  const c = new pg.Client({ host, port, user: 'postgres', password: 'postgres', database, connectionTimeoutMillis: 3000 });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}

describe('two-host storage on a data dir used before', () => {
  it('starts on a new port, finishes a first start cut short, and re-clones a standby whose clone never ended', async () => {
    const port1 = await freePortOnAll([PC1, PC2]);
    storage = await startTwoHostStorage(dir, port1, net);
    await rows(port1, "CREATE TABLE guardada (x int); INSERT INTO guardada VALUES (42)");
    await storage.stop();
    storage = undefined;

    // As a start cut short leaves it: no application database on pc1, pc2 half-copied.
    await startNode({ dataDir: pc1Dir, host: PC1, port: port1 });
    await rows(port1, 'ALTER DATABASE biblioteca RENAME TO biblioteca_antes', PC1, 'postgres');
    await stopNode(pc1Dir);
    writeFileSync(`${pc2Dir}.clone-incomplete`, 'cut short\n');
    unlinkSync(join(pc2Dir, 'global', 'pg_control'));

    let port2 = await freePortOnAll([PC1, PC2]);
    while (port2 === port1) port2 = await freePortOnAll([PC1, PC2]);
    storage = await startTwoHostStorage(dir, port2, net);
    expect(storage.pg).toMatchObject({ host: PC1, port: port2 });
    expect(await rows(port2, 'SELECT 1 AS uno')).toEqual([{ uno: 1 }]); // the database is back
    expect(await rows(port2, 'SELECT x FROM guardada', PC1, 'biblioteca_antes')).toEqual([{ x: 42 }]); // nothing else touched
    expect(await pgRole({ host: PC2, port: port2, user: 'postgres', password: 'postgres', database: 'postgres' })).toMatchObject({ inRecovery: true });
    expect(existsSync(`${pc2Dir}.clone-incomplete`)).toBe(false);
    const streaming = await rows(port2, "SELECT application_name FROM pg_stat_replication WHERE state = 'streaming'", PC1, 'postgres');
    expect(streaming).toEqual([{ application_name: 'pc2' }]);
  }, 120_000);

  it("pc1's data deleted beside a standby pc2: refused with the way out, which then works (pc2 primary, pc1 cloned from it, data kept)", async () => {
    await storage?.stop();
    storage = undefined;
    const port = await freePortOnAll([PC1, PC2]);
    storage = await startTwoHostStorage(dir, port, net);
    await rows(port, 'CREATE TABLE sobrevive (x int); INSERT INTO sobrevive VALUES (7)');
    await storage.stop();
    storage = undefined;
    rmSync(pc1Dir, { recursive: true, force: true });

    const refused = await startTwoHostStorage(dir, port, net).then(
      (s) => {
        storage = s;
        return undefined;
      },
      (err: Error) => err.message,
    );
    expect(refused).toMatch(/los datos de pc1 no están .* y pc2 es un standby: no queda ningún primario/);
    expect(refused).toContain(`rm ${join(pc2Dir, 'standby.signal')}`);
    expect(existsSync(join(pc1Dir, 'PG_VERSION'))).toBe(false); // no new, empty pc1 beside the data

    unlinkSync(join(pc2Dir, 'standby.signal'));
    storage = await startTwoHostStorage(dir, port, net);
    expect(storage.pg).toMatchObject({ host: PC2, port });
    expect(await rows(port, 'SELECT x FROM sobrevive', PC2)).toEqual([{ x: 7 }]);
    expect(await pgRole({ host: PC1, port, user: 'postgres', password: 'postgres', database: 'postgres' })).toMatchObject({ inRecovery: true });
  }, 120_000);
});
