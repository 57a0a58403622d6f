#!/usr/bin/env node
/** Entry point of the PS: `node dist/solicitante/main.js [menu|archivo|test-sistema|carga] …` */
import '../common/env.js';
import { guardStdio } from '../common/stdio-guard.js';
import { runCli } from './cli.js';

guardStdio();

process.exitCode = await runCli(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });
