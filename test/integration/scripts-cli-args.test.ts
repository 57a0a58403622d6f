/** The shared integer option parser, and the scripts that use it refusing bad numbers up front. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { InvalidArgumentError } from 'commander';
import { describe, expect, it } from 'vitest';
import { intArg } from '../../common/cli-args.js';
import { DIST } from '../harness/fixtures.js';
import path from 'node:path';

const run = promisify(execFile);
const dist = (f: string) => path.join(DIST, f.startsWith('postgres/') ? '' : 'scripts', f);

/** Runs a built script; resolves with its exit code and output whatever the code. */
async function script(file: string, args: string[]) {
  try {
    const r = await run(process.execPath, [dist(file), ...args], { timeout: 15_000 });
    return { code: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (e) {
    const err = e as { code: number; killed?: boolean; stdout: string; stderr: string };
    return { code: err.killed ? -1 : err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

describe('intArg', () => {
  it('accepts integers within the bounds', () => {
    expect(intArg(0)('0')).toBe(0);
    expect(intArg(1)(' 42 ')).toBe(42);
    expect(intArg(1, 10)('10')).toBe(10);
  });

  it('refuses anything else with a Spanish message', () => {
    for (const v of ['abc', '', ' ', '1.5', '1e3', '0x10', '12abc', 'NaN', 'Infinity', '99999999999999999999']) {
      expect(() => intArg(0)(v), v).toThrow(InvalidArgumentError);
    }
    expect(() => intArg(1)('0')).toThrow('debe ser un entero entre 1 y 2147483647');
    // Above the hidden ceiling too: the message names it, not only the floor.
    expect(() => intArg(50)('99999999999')).toThrow('debe ser un entero entre 50 y 2147483647');
    expect(() => intArg(1, 10)('11')).toThrow('debe ser un entero entre 1 y 10');
    expect(() => intArg(1)(String(2 ** 31))).toThrow(InvalidArgumentError);
  });
});

describe('scripts refuse bad numbers instead of hanging or using NaN (needs dist/)', () => {
  it('bench:saltos --n abc / --en-vuelo 0 exit at once with a usage error', async () => {
    for (const args of [['--n', 'abc'], ['--en-vuelo', '0'], ['--max-saltos', '-1']]) {
      const r = await script('bench/hops.js', args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/debe ser un entero entre 1 y/);
      expect(r.stdout).toBe('');
    }
  });

  it('status --timeout abc exits with a usage error', async () => {
    const r = await script('launcher/status.js', ['--timeout', 'abc']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--timeout.*debe ser un entero entre 1 y/);
  });

  it('pg-cli rejoin --timeout-ms abc is refused before it can wipe anything', async () => {
    const r = await script('postgres/cli.js', ['rejoin', '--data', '/nonexistent', '--listen', '127.0.0.1:1', '--primary', '127.0.0.1:2', '--timeout-ms', 'abc']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--timeout-ms.*debe ser un entero entre 1000 y/);
  });

  it('pg-cli rejoin refuses to follow itself: --listen equal to --primary would stop and wipe the primary', async () => {
    const r = await script('postgres/cli.js', ['rejoin', '--data', '/nonexistent', '--listen', '127.0.0.1:5999', '--primary', '127.0.0.1:5999']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^Error: --listen y --primary son el mismo servidor/m);
  });

  it('drill with an unknown scenario: usage error (exit 2) naming the valid ones, nothing started', async () => {
    const r = await script('drill/main.js', ['nada']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/escenario desconocido: nada; válidos: .*actores.*todos/);
    expect(r.stdout).toBe('');
  });

  it('bench --ab-curve refuses the flags it would ignore', async () => {
    const r = await script('bench/main.js', ['--ab-curve', '--html', 'x.html', '--replicacion', 'sync']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--ab-curve no admite --replicacion, --html/);
  });
});

describe("commander's own errors, in Spanish and exit 2 in every command (needs dist/)", () => {
  it('unknown option, missing argument, bad choice, too many arguments, unknown command', async () => {
    for (const [file, args, msg] of [
      ['launcher/status.js', ['--nada'], /^error: opción desconocida '--nada'/m],
      ['launcher/main.js', ['--topologia', 'tres'], /^error: valor 'tres' no válido para la opción '--topologia <t>': valores admitidos: two-hosts, single\./m],
      ['launcher/catalogo.js', [], /^error: falta el argumento obligatorio/m],
      ['launcher/status.js', ['sobra'], /^error: demasiados argumentos: se esperaban 0 y llegaron 1\./m],
      ['postgres/cli.js', ['nada'], /^error: comando desconocido 'nada'/m],
      ['postgres/cli.js', ['status'], /^error: falta la opción obligatoria '--node <host:port>'/m],
    ] as const) {
      const r = await script(file, [...args]);
      expect(r.code, `${file} ${args.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr, file).toMatch(msg);
      expect(r.stderr, file).not.toMatch(/unknown|missing|invalid|Allowed|too many/);
    }
    const help = await script('launcher/main.js', ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Uso: npm start -- \[opciones\]/m);
  });
});
