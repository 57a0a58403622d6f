/**
 * What npm start's banner promises, checked against a running launcher
 * (dist/scripts/launcher/main.js, two hosts, free ports, a temp data dir):
 * every HTTP URL it prints answers (the actors' too), the GC's on localhost;
 * its `npm run catalogo` command loads a file into that running system (the
 * README's GA command needs PGHOST/PGPORT and failed with ECONNREFUSED
 * 127.0.0.1:5432); and once it stops, the command says no system is running.
 * Needs `npm run build` first.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { killNode } from '../../postgres/lifecycle.js';
import { projectRoot } from '../../common/project-root.js';
import { SYSTEM_FILE } from '../../scripts/launcher/system-file.js';
import { GcPipelineClient } from '../../solicitante/gc-pipeline.js';
import { eventually } from '../harness/eventually.js';

const execP = promisify(execFile);
const dist = join(projectRoot(), 'dist');
const dir = mkdtempSync(join(tmpdir(), 'lanzador-catalogo-'));
let launcher: ChildProcess | undefined;
const clients: GcPipelineClient[] = [];

afterAll(async () => {
  for (const c of clients) c.close();
  if (launcher && launcher.exitCode === null) {
    launcher.kill('SIGINT');
    await new Promise<void>((r) => {
      const t = setTimeout(r, 15_000);
      launcher!.once('exit', () => {
        clearTimeout(t);
        r();
      });
    });
    launcher.kill('SIGKILL');
  }
  for (const pg of [join(dir, 'pc1', 'pg'), join(dir, 'pc2', 'pg')]) if (existsSync(pg)) await killNode(pg);
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

/** `npm run catalogo -- <file> --data <dir>`, run from another directory with a relative file name, as a user would. */
async function catalogo(file: string, cwd: string): Promise<{ code: number; out: string; err: string }> {
  const r = await execP(process.execPath, [join(dist, 'scripts', 'launcher', 'catalogo.js'), file, '--data', dir], { cwd, env: { ...process.env, INIT_CWD: cwd }, timeout: 30_000 }).then(
    (x) => ({ code: 0, out: x.stdout, err: x.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout, err: e.stderr }),
  );
  return r;
}

describe("npm start's banner", () => {
  it('prints every HTTP URL (all answer; the GC on localhost) and a catalog command that loads into the running system', async () => {
    launcher = spawn(process.execPath, [join(dist, 'scripts', 'launcher', 'main.js'), '--puertos-libres', '--actores', '1', '--data', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    launcher.stdout!.on('data', (b: Buffer) => (out += b.toString()));
    launcher.stderr!.on('data', (b: Buffer) => (out += b.toString()));
    const exited = new Promise<number | null>((r) => launcher!.once('exit', (code) => r(code)));
    await eventually(() => `the banner:\n${out}`, () => out.includes('Ctrl-C para detener.') || launcher!.exitCode !== null, 180_000);
    const banner = out.slice(out.indexOf('Sistema listo.'));

    // Every process's HTTP URL is there, and answers.
    const urls = [...new Set([...banner.matchAll(/http:\/\/[\d.]+:\d+/g)].map((m) => m[0]))];
    const actorLines = banner.match(/^ {2}Actor \S+ \(pc\d\):\s+http:\/\/\S+\/status$/gm) ?? [];
    // --actores 1: one actor process, serving the three types (npm start's default), and one calculo actor.
    expect(actorLines.map((l) => l.split(/\s+/)[2]).sort()).toEqual(['actor-1', 'calculo-1']);
    expect(urls.length).toBe(2 + 2 + 2 + 1); // two GCs, two GAs, two actor processes, the live panel
    for (const u of urls) expect((await fetch(`${u}/health`)).status, u).toBe(200);
    // The GC's HTTP and PS ports are on 127.0.0.1: `curl localhost:<port>/health` works.
    const gcHttp = /GC pc1 HTTP:\s+http:\/\/127\.0\.0\.1:(\d+) {2}\(\/status \/errors\/stats \/metrics \/health\)/.exec(banner);
    expect(gcHttp, banner).not.toBeNull();
    expect((await fetch(`http://localhost:${gcHttp![1]}/health`)).status).toBe(200);

    // The catalog command the banner prints, from another directory with a relative path.
    expect(banner).toContain(`Cargar un catálogo: npm run catalogo -- --data ${dir} <archivo.csv|archivo.json>`);
    const elsewhere = mkdtempSync(join(tmpdir(), 'usuario-'));
    try {
      writeFileSync(join(elsewhere, 'nuevos.csv'), 'isbn,titulo,autor,ejemplares\n978-1-11-111111-1,El Libro Nuevo,Autora,3\n978-1-11-111112-8,Otro Libro,Autor,1\n');
      const ok = await catalogo('nuevos.csv', elsewhere);
      expect(ok, ok.err).toMatchObject({ code: 0 });
      expect(ok.out).toMatch(/Catálogo nuevos\.csv: 2 libro\(s\) nuevo\(s\), 0 actualizado\(s\), 0 sin cambios \(PostgreSQL pc1, /);
      // Loaded into the running system: the GC finds the book, also by its title.
      const gcEndpoint = /GC(?: pc1)? \(PS → GC, REQ\/DEALER\):\s+(\S+)/.exec(banner)![1]!;
      const c = new GcPipelineClient({ endpoints: [gcEndpoint], timeoutMs: 5000, retries: 1 });
      clients.push(c);
      expect(await c.send({ operacion: 'consulta', isbn: '978-1-11-111111-1' })).toMatchObject({ codigo: 'OK', datos: { total: 3, disponibles: 3 } });
      expect(await c.send({ operacion: 'prestamo', titulo: 'el libro nuevo', usuario: 'cat-1' })).toMatchObject({ codigo: 'APROBADO', datos: { isbn: '978-1-11-111111-1' } });
      // Its calculo actor answers the calculation the banner suggests.
      expect(banner).toMatch(/Cálculo:\s+npm run ps -- --gc \S+ calc suma 10 5/);
      expect(await c.send({ operacion: 'suma', a: 10, b: 5 })).toMatchObject({ codigo: 'OK', datos: { resultado: 15, actor: 'calculo-1' } });

      // A bad file is named and changes nothing.
      writeFileSync(join(elsewhere, 'malo.csv'), 'isbn,titulo,autor,ejemplares\n978-1-11-111113-5,Malo,Autor,-1\n');
      const bad = await catalogo('malo.csv', elsewhere);
      expect(bad.code).toBe(1);
      expect(bad.err).toMatch(/^Catálogo rechazado, no se cambió nada: .*malo\.csv.*ejemplares/);
      expect(await c.send({ operacion: 'consulta', isbn: '978-1-11-111113-5' })).toMatchObject({ codigo: 'LIBRO_NO_EXISTE' });

      launcher.kill('SIGINT');
      expect(await exited).toBe(0);
      expect(existsSync(join(dir, SYSTEM_FILE))).toBe(false);
      const none = await catalogo('nuevos.csv', elsewhere);
      expect(none.code).toBe(1);
      expect(none.err).toContain(`no hay un sistema de npm start en marcha sobre ${dir}`);
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  }, 240_000);
});
