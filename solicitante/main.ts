#!/usr/bin/env node
/** Entry point of the PS: `node dist/solicitante/main.js [menu|archivo|test-sistema|carga] …` */
import '../common/env.js';
import { guardStdio } from '../common/stdio-guard.js';
import { runCli } from './cli.js';
import { schedulingWarning, useSchedulingPolicy } from '../common/scheduling.js';

guardStdio();

// A load generator on the system's machine takes part in its CPU picture: it runs under
// the same policy as the processes it loads (common/scheduling.ts).
if (process.argv[2] === 'carga') {
  try {
    const aviso = schedulingWarning(useSchedulingPolicy());
    if (aviso) process.stderr.write(aviso);
  } catch (e) {
    process.stderr.write(`Error: ${(e as Error).message}\n`);
    process.exit(2);
  }
}

process.exitCode = await runCli(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });
