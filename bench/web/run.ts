/**
 * bench:web — the web app in Debian's Chromium against a real platform (pump-line, simulator on,
 * SQLite), issue 11's three figures:
 * - first load of the overview (first-load.ts): JavaScript gzipped ≤ 300 KB, figures drawn < 1 s;
 * - a month of 1 Hz history (2.6 M points) opened in a chart (month-history.ts): < 300 ms;
 * - a twin page with 50 live charts at 10 updates/s (live-charts.ts): frame time p95 < 16 ms and no
 *   growing memory over 5 minutes.
 * Options: --only first-load,month,charts (default all), --runs N (5; first load and month),
 * --soak S (300; the live charts). Appends its block to bench/RESULTS.md (--dry: only prints).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { chromium } from 'playwright-core';
import { cliLayer, resolveConfig } from '../../src/app/config.js';
import { startPlatform } from '../../src/app/platform.js';
import { loadNote } from '../machine-note.js';
import { appendResults, numberFlag, stringFlag } from '../results-file.js';
import { firstLoad, firstLoadBlock } from './first-load.js';
import { liveCharts, liveChartsBlock } from './live-charts.js';
import { monthBlock, monthHistory, seedMonth } from './month-history.js';

const argv = process.argv.slice(2);
const runs = numberFlag(argv, '--runs', 5);
const soakS = numberFlag(argv, '--soak', 300);
const dry = argv.includes('--dry');
const only = new Set((stringFlag(argv, '--only') ?? 'first-load,month,charts').split(','));
for (const o of only)
  if (!['first-load', 'month', 'charts'].includes(o))
    throw new Error(`--only takes first-load, month and charts (comma-separated), not ${o}`);
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const dataDir = mkdtempSync(path.join(tmpdir(), 'twinloop-bench-web-'));
const platform = await startPlatform(
  resolveConfig([cliLayer({ data: dataDir, httpPort: '0', mqttPort: '0', logLevel: 'silent' })]),
  { logger: pino({ level: 'silent' }), banner: false },
);
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
const load = loadNote();
const sections: string[] = [];
try {
  if (only.has('first-load')) {
    console.log('first load …');
    sections.push(...firstLoadBlock(await firstLoad(browser, platform.runtime.httpUrl, runs)));
  }
  if (only.has('month')) {
    console.log('a month of history: writing 2.6 M points …');
    const seeded = await seedMonth(platform, 30);
    console.log('a month of history: opening it …');
    sections.push(...monthBlock(await monthHistory(browser, platform, runs), seeded));
  }
  if (only.has('charts')) {
    console.log(`50 live charts: ${soakS} s …`);
    sections.push(...liveChartsBlock(await liveCharts(browser, platform, soakS), soakS));
  }
} finally {
  await browser.close();
  await platform.stop();
  rmSync(dataDir, { recursive: true, force: true });
}

const block = [
  `### bench:web — ${new Date().toISOString()} (issue 11)`,
  '',
  `Debian's Chromium (headless) on the same machine as the platform (pump-line, simulator on, SQLite). Command: \`npm run bench:web${argv.length ? ` -- ${argv.join(' ')}` : ''}\`. ${load}`,
  '',
  ...sections,
].join('\n');
console.log(block);
if (!dry) appendResults(block);
