/**
 * The browser files of the dashboard and the reports: the chart library from
 * node_modules (never a CDN: users may be offline) and the project's own plain
 * scripts and styles in web/ (no build step: tsc does not touch them, so they are
 * read from the project root whether the caller runs as TS or from dist/).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { projectRoot } from '../common/project-root.js';

const require = createRequire(import.meta.url);

/** Name served or inlined → file on disk. The only files the panel serves. */
export const WEB_ASSETS = {
  'uplot.js': () => path.join(path.dirname(require.resolve('uplot/package.json')), 'dist', 'uPlot.iife.min.js'),
  'uplot.css': () => path.join(path.dirname(require.resolve('uplot/package.json')), 'dist', 'uPlot.min.css'),
  'graficos.js': () => path.join(projectRoot(), 'web', 'graficos.js'),
  'informe.js': () => path.join(projectRoot(), 'web', 'informe.js'),
  'panel.js': () => path.join(projectRoot(), 'web', 'panel.js'),
  'panel.html': () => path.join(projectRoot(), 'web', 'panel.html'),
  'estilo.css': () => path.join(projectRoot(), 'web', 'estilo.css'),
} as const;

export type WebAssetName = keyof typeof WEB_ASSETS;

const cache = new Map<WebAssetName, string>();

/** The file's text (read once per process: they do not change while it runs). */
export function webAsset(name: WebAssetName): string {
  let text = cache.get(name);
  if (text === undefined) cache.set(name, (text = readFileSync(WEB_ASSETS[name](), 'utf8')));
  return text;
}

export function isWebAsset(name: string): name is WebAssetName {
  return Object.hasOwn(WEB_ASSETS, name);
}
