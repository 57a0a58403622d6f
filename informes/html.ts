/**
 * A report as ONE self-contained HTML file: the chart library (uPlot, from
 * node_modules), the page's scripts and styles and the data are all inlined, so
 * the file opens offline, mailed or archived, with nothing beside it.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { webAsset } from './assets.js';
import type { Vista } from './vista.js';

/** Text safe inside <script>…</script>: the only sequence that could end it early is "</script" (and "<!--"). */
function inScript(code: string): string {
  return code.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

/** JSON inside a <script type="application/json">: `<` escaped so no tag can close it. */
function jsonInScript(data: unknown): string {
  return JSON.stringify(data).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function htmlDocument(vista: Vista): string {
  return `<!doctype html>
<html lang="es">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(vista.titulo)}</title>
<style>${webAsset('uplot.css')}</style>
<style>${webAsset('estilo.css')}</style>
</head>
<body>
<header><h1>${escapeHtml(vista.titulo)}</h1><p class="sub">generado ${escapeHtml(vista.generado)}</p></header>
<main id="informe"></main>
<footer>Gráficos: uPlot (MIT). Informe autocontenido: no necesita red.</footer>
<script id="vista" type="application/json">${jsonInScript(vista)}</script>
<script>${inScript(webAsset('uplot.js'))}</script>
<script>${inScript(webAsset('graficos.js'))}</script>
<script>${inScript(webAsset('informe.js'))}</script>
</body>
</html>
`;
}

export function writeHtmlReport(path: string, vista: Vista): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, htmlDocument(vista));
}
