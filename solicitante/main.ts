#!/usr/bin/env node
/** Entry point of the PS: `node dist/solicitante/main.js [menu|archivo|test-sistema|carga] …` */
import '../common/env.js';
import { guardStdio } from '../common/stdio-guard.js';
import { runCli } from './cli.js';
import { adoptSchedulingPolicy } from '../common/scheduling.js';

guardStdio();

process.exitCode = await runCli(process.argv.slice(2), {
  stdin: process.stdin,
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  // A load generator on the system's machine takes part in its CPU picture: it runs under
  // the same policy as the processes it loads (common/scheduling.ts).
  beforeLoad: () => adoptSchedulingPolicy((s) => process.stderr.write(s)),
  onInterrupt(cb) {
    const first = () => {
      process.off('SIGINT', first).off('SIGTERM', first);
      // A second interrupt: the user does not want to wait for the clean-up.
      process.once('SIGINT', () => process.exit(130)).once('SIGTERM', () => process.exit(143));
      cb();
    };
    process.on('SIGINT', first).on('SIGTERM', first);
    return () => void process.off('SIGINT', first).off('SIGTERM', first);
  },
});
