/**
 * Debian's Chromium (apt-get install chromium), driven headless by
 * playwright-core: no browser is ever downloaded. Pages record their console
 * errors and uncaught exceptions so tests can assert there were none.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { projectRoot } from '../../common/project-root.js';

export const CHROMIUM = '/usr/bin/chromium';
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} not found: apt-get install -y chromium (.ci/run does it)`);
  return chromium.launch({ executablePath: CHROMIUM, args: FLAGS, headless: true, timeout: 60_000 });
}

export interface WatchedPage {
  page: Page;
  /** Console errors and uncaught exceptions, in order. */
  errors: string[];
}

export async function openPage(browser: Browser, url: string, size = { width: 1400, height: 1800 }): Promise<WatchedPage> {
  const page = await browser.newPage({ viewport: size });
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(`console: ${m.text()}`);
  });
  page.on('pageerror', (e) => errors.push(`exception: ${e.message}`));
  await page.goto(url);
  return { page, errors };
}

/** Where screenshots go: the project's reports/ (git-ignored). */
export function screenshotPath(name: string): string {
  const dir = join(projectRoot(), 'reports');
  mkdirSync(dir, { recursive: true });
  return join(dir, name);
}
