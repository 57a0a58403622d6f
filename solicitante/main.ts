#!/usr/bin/env node
/** Entry point of the PS: `node dist/solicitante/main.js [menu|archivo|test-sistema|carga] …` */
import dotenv from 'dotenv';
import { runCli } from './cli.js';

// quiet: dotenv 17 otherwise prints a banner on stdout, which is the CLI's output.
dotenv.config({ quiet: true });
process.exitCode = await runCli(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env });
