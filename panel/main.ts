/**
 * The live panel process: `npm run panel -- --gc URL --ga pc1=URL --ga pc2=URL
 * --actor pc1=URL … [--puerto 9500] [--host 127.0.0.1]`. Polls every process
 * given and serves the page; `npm start` starts one for its system and prints
 * its URL. Bad arguments: a clear message and exit 2.
 */
import { Command, InvalidArgumentError } from 'commander';
import { createLogger } from '../common/logger.js';
import { stopOnSignals } from '../common/process-lifecycle.js';
import { intArg, spanishHelp } from '../common/cli-args.js';
import { PanelCollector } from './collector.js';
import { DEFAULT_PANEL_PORT, startPanelServer } from './server.js';
import { TargetError, nameTargets, parseTarget, type ProcessKind, type Target } from './targets.js';

const collect = (kind: ProcessKind) => (v: string, prev: Array<Omit<Target, 'nombre'>> | undefined) => {
  try {
    return [...(prev ?? []), parseTarget(kind, v)];
  } catch (e) {
    throw new InvalidArgumentError(e instanceof TargetError ? e.message : String(e));
  }
};

async function main(): Promise<void> {
  const program = spanishHelp(new Command('panel'))
    .description('Panel en vivo: consulta /status, /errors/stats y /metrics.json de cada proceso y sirve la página')
    .option('--gc <[host=]url>', 'URL HTTP de un GC (repetible)', collect('gc'))
    .option('--ga <[host=]url>', 'URL HTTP de un GA (repetible)', collect('ga'))
    .option('--actor <[host=]url>', 'URL HTTP de un actor (repetible)', collect('actor'))
    .option('--puerto <n>', 'puerto del panel (0 = cualquiera libre)', intArg(0), DEFAULT_PANEL_PORT)
    .option('--host <dirección>', 'dirección donde escucha el panel', '127.0.0.1')
    .option('--intervalo <ms>', 'cada cuánto consulta los procesos', intArg(200), 1000)
    .option('--historia <s>', 'segundos de historia que guarda', intArg(10), 600)
    .parse();
  const o = program.opts<{ gc?: Target[]; ga?: Target[]; actor?: Target[]; puerto: number; host: string; intervalo: number; historia: number }>();
  if (o.puerto > 65535) program.error('--puerto: como mucho 65535');
  const targets = (() => {
    try {
      return nameTargets([...(o.gc ?? []), ...(o.ga ?? []), ...(o.actor ?? [])]);
    } catch (e) {
      return program.error(e instanceof TargetError ? e.message : String(e));
    }
  })();
  if (targets.length === 0) program.error('indique al menos un proceso: --gc, --ga o --actor');

  const log = createLogger('panel');
  const collector = new PanelCollector({ targets, log, everyMs: o.intervalo, keepMs: o.historia * 1000 }).start();
  const server = await startPanelServer({ host: o.host, port: o.puerto, collector, targets, log });
  log.info({ url: server.url, targets: targets.map((t) => `${t.nombre} ${t.url}`) }, 'panel listening');
  stopOnSignals(log, async () => {
    collector.stop();
    await server.close();
  });
}

main().catch((err: unknown) => {
  createLogger('panel').fatal({ err }, 'panel failed to start');
  process.exit(1);
});
