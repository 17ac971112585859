/**
 * bench:web — the web app's first load in Debian's Chromium against a real platform (pump-line,
 * simulator on): the bytes of JavaScript on the wire for the overview (gzip, as served), everything
 * on the wire, and the time from navigation to all of the overview's figures drawn (its seven cards,
 * each drawn when its route answers; the page answers then: its links work), each in a fresh browser context (empty cache), median of `--runs` (default 5).
 * Issue 11's targets: ≤ 300 KB of JavaScript gzipped before any 3D code, interactive in < 1 s.
 * Appends its block to bench/RESULTS.md (--dry: only prints).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { chromium } from 'playwright-core';
import { cliLayer, resolveConfig } from '../../src/app/config.js';
import { startPlatform } from '../../src/app/platform.js';
import { loadNote } from '../machine-note.js';
import { appendResults, numberFlag } from '../results-file.js';

const argv = process.argv.slice(2);
const runs = numberFlag(argv, '--runs', 5);
const dry = argv.includes('--dry');
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

const dataDir = mkdtempSync(path.join(tmpdir(), 'twinloop-bench-web-'));
const platform = await startPlatform(
  resolveConfig([cliLayer({ data: dataDir, httpPort: '0', mqttPort: '0', logLevel: 'silent' })]),
  { logger: pino({ level: 'silent' }), banner: false },
);
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
const rows: { js: number; all: number; requests: number; ms: number }[] = [];
try {
  for (let i = 0; i < runs; i++) {
    const ctx = await browser.newContext({ viewport: { width: 1366, height: 850 } });
    const page = await ctx.newPage();
    const cdp = await ctx.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
    const types = new Map<string, string>();
    let js = 0;
    let all = 0;
    let requests = 0;
    cdp.on('Network.responseReceived', (e: { requestId: string; type: string }) =>
      types.set(e.requestId, e.type),
    );
    cdp.on('Network.loadingFinished', (e: { requestId: string; encodedDataLength: number }) => {
      requests++;
      all += e.encodedDataLength;
      if (types.get(e.requestId) === 'Script') js += e.encodedDataLength;
    });
    await page.goto(`${platform.runtime.httpUrl}/`);
    // Every card of the overview holds its figure (none still '…').
    await page.getByRole('link', { name: /^Twins: \d+$/ }).waitFor();
    await page.waitForFunction(
      "[...document.querySelectorAll('.card-value')].length === 7 && ![...document.querySelectorAll('.card-value')].some((e) => e.textContent === '…')",
      undefined,
      { polling: 'raf' },
    );
    const ms = (await page.evaluate('performance.now()')) as number;
    await page.waitForLoadState('networkidle').catch(() => undefined);
    rows.push({ js, all, requests, ms });
    await ctx.close();
  }
} finally {
  await browser.close();
  await platform.stop();
  rmSync(dataDir, { recursive: true, force: true });
}

const kb = (b: number) => `${(b / 1024).toFixed(1)} KiB`;
const block = [
  `## bench:web — ${new Date().toISOString().slice(0, 10)}, first load of the overview (issue 11)`,
  '',
  `Debian's Chromium (headless) on the same machine as the platform (pump-line, simulator on), a fresh context per run (cache disabled), ${runs} runs. ${loadNote()}`,
  '',
  '| run | JavaScript on the wire (gzip) | everything on the wire | requests | navigation → all figures drawn |',
  '|---|---|---|---|---|',
  ...rows.map((r, i) => `| ${i + 1} | ${kb(r.js)} | ${kb(r.all)} | ${r.requests} | ${r.ms.toFixed(0)} ms |`),
  `| **median** | **${kb(median(rows.map((r) => r.js)))}** (target ≤ 300 KB) | ${kb(median(rows.map((r) => r.all)))} | ${median(rows.map((r) => r.requests))} | **${median(rows.map((r) => r.ms)).toFixed(0)} ms** (target < 1 s) |`,
  '',
  'The explorer (Cytoscape.js) and the twin page (uPlot) are separate chunks, loaded when opened: not in these figures.',
  '',
].join('\n');
console.log(block);
if (!dry) appendResults(block);
