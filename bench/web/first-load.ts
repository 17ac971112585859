/**
 * bench:web, first load: the overview in a fresh browser context (cache disabled): JavaScript bytes
 * on the wire (gzip, as served), everything on the wire, and the time from navigation to all of the
 * overview's figures drawn (its cards, each drawn when its route answers: the page answers
 * then, its links work). Issue 11: ≤ 300 KB of JavaScript gzipped before any 3D code, < 1 s.
 */
import type { Browser } from 'playwright-core';
import { kib, median } from './web-bench-support.js';

export interface FirstLoadRun {
  js: number;
  all: number;
  requests: number;
  ms: number;
}

export async function firstLoad(browser: Browser, base: string, runs: number): Promise<FirstLoadRun[]> {
  const rows: FirstLoadRun[] = [];
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
    await page.goto(`${base}/`);
    await page.getByRole('link', { name: /^Twins: \d+$/ }).waitFor();
    // Polled on every frame in the page (an evaluated expression: the app's CSP, without
    // 'unsafe-eval', refuses the eval behind a string waitForFunction predicate).
    const ms = (await page.evaluate(`new Promise((resolve) => {
      const check = () => {
        const cards = [...document.querySelectorAll('.card-value')];
        if (cards.length >= 7 && !cards.some((e) => e.textContent === '…')) resolve(performance.now());
        else requestAnimationFrame(check);
      };
      check();
      setTimeout(() => resolve(-1), 30000);
    })`)) as number;
    if (ms < 0) throw new Error('The overview did not draw all of its figures within 30 s.');
    await page.waitForLoadState('networkidle').catch(() => undefined);
    rows.push({ js, all, requests, ms });
    await ctx.close();
  }
  return rows;
}

export function firstLoadBlock(rows: readonly FirstLoadRun[]): string[] {
  return [
    '#### First load of the overview',
    '',
    `A fresh context per run (cache disabled), ${rows.length} runs.`,
    '',
    '| run | JavaScript on the wire (gzip) | everything on the wire | requests | navigation → all figures drawn |',
    '|---|---|---|---|---|',
    ...rows.map(
      (r, i) => `| ${i + 1} | ${kib(r.js)} | ${kib(r.all)} | ${r.requests} | ${r.ms.toFixed(0)} ms |`,
    ),
    `| **median** | **${kib(median(rows.map((r) => r.js)))}** (target ≤ 300 KB) | ${kib(median(rows.map((r) => r.all)))} | ${median(rows.map((r) => r.requests))} | **${median(rows.map((r) => r.ms)).toFixed(0)} ms** (target < 1 s) |`,
    '',
    'The explorer (Cytoscape.js) and the twin page (uPlot) are separate chunks, loaded when opened: not in these figures.',
    '',
  ];
}
