/**
 * The live panel and a drill's HTML report, in Debian's headless Chromium,
 * against a real two-hosts system (GA pair, streaming standby, 2 actors per
 * type over pc1/pc2) and a real `panel` process polling it:
 *  - the page loads with no console error, each chart as wide as its grid cell,
 *    and its numbers move under load;
 *  - a drill kills the active GA under load: the page shows pc2 ACTIVE and pc1
 *    not answering, and marks the role change on the charts' timeline;
 *  - that drill's self-contained HTML report draws its charts, each in its own
 *    cell, with the fault drawn where it happened, and asks for nothing over the network.
 * Screenshots go to reports/ (panel-carga.png, panel-failover.png, informe-drill.png).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { escribirInformeHtml } from '../../informes/escribir.js';
import type { ManagedProcess } from '../../scripts/launcher/child-process.js';
import type { DrillOutcome } from '../../scripts/drill/run.js';
import { freePort } from '../../scripts/launcher/free-port.js';
import { panelProcess } from '../../scripts/launcher/panel-process.js';
import { runLoad } from '../../solicitante/load.js';
import { launchChromium, openPage, screenshotPath, type WatchedPage } from '../harness/browser.js';
import { DRILL_ISBNS, drill, startDrillSystem, type DrillSystem } from '../harness/drill.js';

let sys: DrillSystem | undefined;
let panel: ManagedProcess | undefined;
let browser: Browser | undefined;
let panelUrl = '';
let live: WatchedPage | undefined;
let drilled: DrillOutcome | undefined;
let failed = false;
const tmp = mkdtempSync(join(tmpdir(), 'panel-browser-'));

beforeAll(async () => {
  sys = await startDrillSystem('async');
  const port = await freePort('127.0.0.1');
  panel = panelProcess(sys, { host: '127.0.0.1', port, everyMs: 500 }).start();
  await panel.waitHealthy(20_000);
  panelUrl = `http://127.0.0.1:${port}/`;
  browser = await launchChromium();
}, 180_000);

afterEach((ctx) => {
  if (ctx.task.result?.state === 'fail') failed = true;
});

afterAll(async () => {
  // Each step runs even if an earlier one throws: nothing may outlive the file.
  await browser?.close().catch(() => undefined);
  await panel?.stop().catch(() => undefined);
  await sys?.stopAndClean(failed).catch(() => undefined);
  rmSync(tmp, { recursive: true, force: true });
}, 60_000);

type ChartInfo = { titulo: string; data: Array<Array<number | null>>; marcas: Array<{ t: number; texto: string; tipo: string }> };

const charts = (w: WatchedPage): Promise<ChartInfo[]> =>
  w.page.evaluate(() =>
    ((window as unknown as { __graficos?: Array<{ titulo: string; u: { data: Array<Array<number | null>> }; marcas: ChartInfo['marcas'] }> }).__graficos ?? []).map((g) => ({
      titulo: g.titulo,
      data: g.u.data.map((col) => [...col]),
      marcas: g.marcas,
    })),
  );

type ChartFit = { titulo: string; lienzo: number; figura: number };

/**
 * Each chart's canvas width against its figure's content width, after the frame that
 * laid the page out (resize observers run in it, before paint).
 */
const chartFits = async (w: WatchedPage): Promise<ChartFit[]> => {
  await w.page.evaluate(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r))));
  return w.page.evaluate(() => {
    type G = { titulo: string; u: { ctx: CanvasRenderingContext2D }; figura: HTMLElement };
    return ((window as unknown as { __graficos?: G[] }).__graficos ?? []).map((g) => {
      const estilo = getComputedStyle(g.figura);
      const relleno = parseFloat(estilo.paddingLeft) + parseFloat(estilo.paddingRight);
      return { titulo: g.titulo, lienzo: g.u.ctx.canvas.getBoundingClientRect().width, figura: g.figura.clientWidth - relleno };
    });
  });
};

/** Every chart fills its own cell: no wider (it would overlap the next one), and not a sliver of it. */
function expectChartsFit(fits: ChartFit[], expected: number): void {
  expect(fits.length, 'charts drawn').toBe(expected);
  for (const f of fits) {
    const what = `${f.titulo}: canvas ${f.lienzo} px in a figure of ${f.figura} px`;
    expect(f.lienzo, what).toBeLessThanOrEqual(f.figura);
    expect(f.lienzo, what).toBeGreaterThan(f.figura - 20);
  }
}

const kpi = async (w: WatchedPage, id: string) => Number((await w.page.locator(`#${id} .v`).textContent())?.replace(',', '.'));

describe.sequential('live panel and HTML report in Chromium', () => {
  it('the panel loads with no console errors and its numbers change under load', async () => {
    live = await openPage(browser!, panelUrl);
    const { page } = live;
    await page.waitForSelector('#conexion.viva', { timeout: 15_000 });
    // The charts as first drawn, all in one go: each one in its own grid cell, none at the row's width.
    await page.waitForFunction(() => ((window as unknown as { __graficos?: unknown[] }).__graficos ?? []).length === 6, undefined, { timeout: 15_000 });
    expectChartsFit(await chartFits(live), 6);
    // Before any load: both GAs, every actor and the GC are there.
    await page.waitForFunction(() => document.querySelector('tr[data-ga="pc1"] .ga-estado')?.textContent === 'ACTIVE', undefined, { timeout: 15_000 });
    expect(await page.locator('tr[data-ga="pc2"] .ga-estado').textContent()).toBe('PASSIVE');
    for (const tipo of ['prestamo', 'devolucion', 'renovacion']) {
      expect(await page.locator(`#tabla-actores-host tr[data-tipo="${tipo}"] td`).allTextContents()).toEqual([tipo, '1', '1']);
    }

    const load = runLoad({ endpoints: sys!.gcEndpoints, clientes: 4, duracionS: 6, isbns: DRILL_ISBNS, prefijoUsuario: 'panel-carga' });
    const seen: number[] = [];
    const until = Date.now() + 6000;
    while (Date.now() < until) {
      seen.push(await kpi(live, 'kpi-rps'));
      await page.waitForTimeout(500);
    }
    const report = await load;
    expect(report.respuestas).toBeGreaterThan(0);
    const moving = seen.filter((x) => Number.isFinite(x) && x > 0);
    expect(moving.length, `solicitudes/s seen: ${seen.join(' ')}`).toBeGreaterThan(2);
    expect(new Set(moving).size, `solicitudes/s seen: ${seen.join(' ')}`).toBeGreaterThan(1);
    // The chart plots the same: some second with préstamos and a latency for them.
    const rps = (await charts(live)).find((c) => c.titulo.startsWith('Solicitudes por segundo'))!;
    expect(Math.max(...(rps.data[1] as number[]))).toBeGreaterThan(0);
    const p99 = (await charts(live)).find((c) => c.titulo.startsWith('Latencia p99'))!;
    expect((p99.data[1] ?? []).some((v) => typeof v === 'number' && v > 0)).toBe(true);
    expect(await kpi(live, 'kpi-actores')).toBe(6);
    await page.screenshot({ path: screenshotPath('panel-carga.png'), fullPage: true });
    expect(live.errors).toEqual([]);
  }, 60_000);

  it('a kill of the active GA under load: the page shows pc2 ACTIVE, pc1 down, and marks the change on the timeline', async () => {
    const { page } = live!;
    drilled = await drill(sys!, 'ga-primario', 'async', 'pn-ga');
    expect(drilled.report.tomaDeControlMs).not.toBeNull();
    await page.waitForFunction(() => document.querySelector('tr[data-ga="pc2"] .ga-estado')?.textContent === 'ACTIVE', undefined, { timeout: 15_000 });
    expect(await page.locator('tr[data-ga="pc1"] .ga-estado').textContent()).toBe('sin respuesta');
    expect(await page.locator('#kpi-ga .v').textContent()).toBe('pc2');
    const eventos = await page.locator('#eventos li').allTextContents();
    expect(eventos.some((e) => e.includes('GA pc2: PASSIVE → ACTIVE')), eventos.join('\n')).toBe(true);
    expect(eventos.some((e) => e.includes('GA pc1 no responde')), eventos.join('\n')).toBe(true);
    const marked = (await charts(live!)).find((c) => c.titulo.startsWith('Solicitudes por segundo'))!;
    expect(marked.marcas.filter((m) => m.tipo === 'rol').map((m) => m.texto)).toContain('GA pc2: PASSIVE → ACTIVE');
    // Storage clients' breakers toward the dead GA opened under load: events and marks.
    const deadGa = sys!.gaEndpoints[0]!.replace('tcp://', '');
    expect(eventos.some((e) => e.includes('breaker abierto: ') && e.endsWith(`→ ${deadGa}`)), eventos.join('\n')).toBe(true);
    expect(marked.marcas.some((m) => m.tipo === 'breaker' && m.texto.includes(deadGa))).toBe(true);
    // Breakers toward both GAs are listed for every client (the GC and each actor).
    const breakers = await page.locator('#tabla-breakers tbody tr').count();
    expect(breakers).toBe((sys!.gcs.length + 6) * 2); // every GC and the 6 actors × 2 GA endpoints
    await page.screenshot({ path: screenshotPath('panel-failover.png'), fullPage: true });
    expect(live!.errors).toEqual([]);
  }, 120_000);

  it("the drill's HTML report draws its charts, marks the fault where it happened, and needs no network", async () => {
    expect(drilled, 'the drill of the previous test').toBeDefined();
    const r = drilled!.report;
    const file = escribirInformeHtml([{ tipo: 'drill', datos: r }], { html: join(tmp, 'drill.html'), nombre: 'drill', fecha: r.inicio });
    expect(readFileSync(file, 'utf8')).not.toMatch(/<(script|link|img)[^>]+(src|href)=/i);
    const w = await openPage(browser!, 'about:blank', { width: 1300, height: 1400 });
    const requests: string[] = [];
    w.page.on('request', (q) => requests.push(q.url()));
    await w.page.goto(pathToFileURL(file).href);
    await w.page.waitForSelector('body[data-listo="1"]');
    await w.page.waitForTimeout(300); // uPlot draws on the next frame
    expectChartsFit(await chartFits(w), 3);
    const drawn = await w.page.evaluate(() => {
      type G = { titulo: string; marcas: Array<{ t: number; tipo: string }>; u: { ctx: CanvasRenderingContext2D; bbox: { left: number; top: number; width: number; height: number }; valToPos(v: number, s: string, c?: boolean): number } };
      return ((window as unknown as { __graficos: G[] }).__graficos ?? []).map((g) => {
        const { ctx, bbox } = g.u;
        const img = ctx.getImageData(bbox.left, bbox.top, bbox.width, bbox.height);
        let painted = 0;
        for (let i = 0; i < img.data.length; i += 4) if (img.data[i + 3]! > 0 && (img.data[i]! < 200 || img.data[i + 1]! < 200 || img.data[i + 2]! < 200)) painted++;
        // The fault's line is drawn in its own red (#d62728), which no series uses.
        const falla = g.marcas.find((m) => m.tipo === 'falla');
        let red = 0;
        if (falla) {
          const x = Math.round(g.u.valToPos(falla.t, 'x', true));
          const col = ctx.getImageData(x - 2, bbox.top, 5, bbox.height).data;
          for (let i = 0; i < col.length; i += 4) if (col[i]! > 180 && col[i + 1]! < 90 && col[i + 2]! < 90) red++;
        }
        return { titulo: g.titulo, painted, red, falla: falla?.t };
      });
    });
    expect(drawn.map((d) => d.titulo)).toEqual(['Solicitudes por segundo, por operación', 'Latencia p50 por operación', 'Latencia p99 por operación']);
    for (const d of drawn) {
      expect(d.painted, d.titulo).toBeGreaterThan(500);
      expect(d.falla, d.titulo).toBeCloseTo(r.falla.tMs / 1000, 3);
      expect(d.red, `${d.titulo}: red pixels on the fault's line`).toBeGreaterThan(20);
    }
    const legend = await w.page.locator('figure.grafico').first().locator('ul.marcas li').allTextContents();
    expect(legend.some((l) => l.includes('falla:'))).toBe(true);
    expect(legend.some((l) => l.includes(`recuperado en ${r.recuperacionMs} ms`))).toBe(true);
    expect(await w.page.locator('.veredicto').textContent()).toBe(r.ok ? 'RESULTADO: OK' : 'RESULTADO: FALLO');
    expect(requests).toEqual([pathToFileURL(file).href]);
    await w.page.screenshot({ path: screenshotPath('informe-drill.png'), fullPage: true });
    expect(w.errors).toEqual([]);
  }, 60_000);
});
