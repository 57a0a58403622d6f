/**
 * Where carga, bench and drill put their HTML report, and writing it: beside the
 * JSON report (same name, .html) when there is one, else under the project's
 * reports/ (git-ignored); an explicit --html path wins.
 */
import path from 'node:path';
import { projectRoot } from '../common/project-root.js';
import { writeHtmlReport } from './html.js';
import { vistaDe, type Informe } from './vista.js';

export function reportsDir(): string {
  return path.join(projectRoot(), 'reports');
}

export function htmlReportPath(o: { html?: string; json?: string; nombre: string; fecha: string }): string {
  if (o.html) return o.html;
  if (o.json) return o.json.replace(/\.json$/i, '') + '.html';
  return path.join(reportsDir(), `${o.nombre}-${o.fecha.replace(/[:.]/g, '-')}.html`);
}

const TITULOS: Record<Informe['tipo'], string> = { carga: 'Informe de carga', bench: 'Banco de pruebas', drill: 'Simulacro de fallo' };

/** Writes the report of `informes` (all of one kind) and returns its path. */
export function escribirInformeHtml(informes: Informe[], o: { html?: string; json?: string; nombre: string; fecha: string }): string {
  const file = htmlReportPath(o);
  writeHtmlReport(file, vistaDe(TITULOS[informes[0]?.tipo ?? 'carga'], informes));
  return file;
}
