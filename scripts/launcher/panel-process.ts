/**
 * The live panel for a system this launcher started: one `panel` child process
 * told every GC, GA and actor HTTP port of the system (with the simulated host
 * each runs on). Used by `npm start` and the tests that drive the page.
 */
import { join } from 'node:path';
import { ManagedProcess } from './child-process.js';
import { projectRoot } from '../../common/project-root.js';
import type { LocalSystem } from './local-system.js';

type Proc = LocalSystem['gc'];

const target = (p: Proc) => `${p.spec.host ?? p.spec.httpHost ?? '127.0.0.1'}=http://${p.spec.httpHost ?? '127.0.0.1'}:${p.spec.httpPort}`;

/** `--gc … --ga … --actor …` for every process of `sys` that has an HTTP port. */
function panelTargetArgs(sys: Pick<LocalSystem, 'gcs' | 'ga' | 'gaBackup' | 'actors'>): string[] {
  const args: string[] = [];
  const add = (flag: string, p: Proc | undefined) => {
    if (p?.spec.httpPort) args.push(flag, target(p));
  };
  for (const g of sys.gcs) add('--gc', g.process);
  add('--ga', sys.ga);
  add('--ga', sys.gaBackup);
  for (const a of sys.actors) add('--actor', a);
  return args;
}

export function panelProcess(sys: LocalSystem, o: { host: string; port: number; everyMs?: number; logFile?: string }): ManagedProcess {
  return new ManagedProcess({
    name: 'panel',
    script: join(projectRoot(), 'dist', 'panel', 'main.js'),
    args: [...panelTargetArgs(sys), '--host', o.host, '--puerto', String(o.port), ...(o.everyMs ? ['--intervalo', String(o.everyMs)] : [])],
    env: { LOG_LEVEL: process.env.LOG_LEVEL ?? 'info' },
    logFile: o.logFile ?? join(sys.dataDir, 'logs', 'panel.log'),
    httpHost: o.host,
    httpPort: o.port,
  });
}
