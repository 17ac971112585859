/**
 * bench:web, a month of history: 30 days of 1 Hz points (2.6 M) of one telemetry stream, written
 * into the platform's history store before the run, then opened on the twin page: the time from
 * the click on "Last 30 days" to that chart drawn with the month (uPlot's draw hook stamps the
 * chart's element with the time and the span it drew). Each run in a fresh browser context. Also
 * the aggregate route alone (Node's fetch, the same query the page sends), to split server and
 * browser. Issue 11: < 300 ms from click to drawn.
 */
import type { Browser } from 'playwright-core';
import type { Platform } from '../../src/app/platform.js';
import { median } from './web-bench-support.js';

const DAY = 86_400_000;
const TWIN = 'pump-1a';
const PATH = 'vibration';

/** Writes `days` of 1 Hz points ending `endAgoMs` before now; resolves to how many. */
export async function seedMonth(platform: Platform, days: number, endAgoMs = 10 * 60_000): Promise<number> {
  const end = Date.now() - endAgoMs;
  const start = end - days * DAY;
  const BATCH = 100_000;
  let n = 0;
  for (let t0 = start; t0 < end; t0 += BATCH * 1000) {
    const points = [];
    for (let t = t0; t < Math.min(end, t0 + BATCH * 1000); t += 1000) {
      // A daily cycle, a slow drift and noise: what a pump's vibration looks like over a month.
      const v =
        2.2 +
        0.4 * Math.sin((2 * Math.PI * t) / DAY) +
        (0.3 * (t - start)) / (end - start) +
        0.1 * Math.random();
      points.push({
        workspace: 'default',
        twinId: TWIN,
        path: PATH,
        kind: 'telemetry' as const,
        ts: t,
        value: v,
      });
    }
    await platform.storage.history.append(points);
    n += points.length;
  }
  return n;
}

export interface MonthRun {
  clickToDrawnMs: number;
  points: number;
  routeMs: number;
}

export async function monthHistory(browser: Browser, platform: Platform, runs: number): Promise<MonthRun[]> {
  const base = platform.runtime.httpUrl;
  const rows: MonthRun[] = [];
  for (let i = 0; i < runs; i++) {
    const ctx = await browser.newContext({ viewport: { width: 1366, height: 850 } });
    const page = await ctx.newPage();
    await page.goto(`${base}/app/twin?id=${TWIN}`);
    const chart = page.getByRole('img', { name: `Chart of ${PATH}`, exact: true });
    await chart.waitFor();
    await page.getByRole('button', { name: 'Last 30 days' }).waitFor();
    // Click and time inside the page: no round trip to the driver inside the figure.
    const result = (await page.evaluate(`new Promise((resolve, reject) => {
      const el = document.querySelector('[aria-label="Chart of ${PATH}"]');
      const button = [...document.querySelectorAll('button')].find((b) => b.textContent === 'Last 30 days');
      if (!el || !button) return reject(new Error('no chart or no button'));
      const t0 = performance.now();
      const obs = new MutationObserver(() => {
        const span = Number(el.dataset.drawnSpanS ?? 0);
        const at = Number(el.dataset.drawnAt ?? 0);
        if (at > t0 && span > 29 * 86400) {
          obs.disconnect();
          resolve({ ms: at - t0, points: Number(el.dataset.points ?? 0) });
        }
      });
      obs.observe(el, { attributes: true });
      setTimeout(() => reject(new Error('not drawn within 30 s')), 30000);
      button.click();
    })`)) as { ms: number; points: number };
    // The same query as the page's, from Node: the server's share.
    const to = Date.now();
    const q = new URLSearchParams({
      path: PATH,
      from: String(to - 30 * DAY),
      to: String(to),
      interval: '3600000ms',
      fn: 'avg',
    });
    const t0 = performance.now();
    const res = await fetch(`${base}/digitaltwins/${TWIN}/history?${q}`);
    await res.arrayBuffer();
    const routeMs = performance.now() - t0;
    if (!res.ok) throw new Error(`history route answered ${res.status}`);
    rows.push({ clickToDrawnMs: result.ms, points: result.points, routeMs });
    await ctx.close();
  }
  return rows;
}

export function monthBlock(rows: readonly MonthRun[], seeded: number): string[] {
  return [
    '#### A month of 1 Hz history in a chart',
    '',
    `${seeded.toLocaleString('en-US')} points of \`${TWIN}\` \`${PATH}\` (30 days at 1 Hz) written into the history store (SQLite) before the runs; the twin page opened live, then a click on "Last 30 days"; a fresh context per run, ${rows.length} runs. The page reads the range from the aggregate route (600 buckets at most) for each of the twin's series and draws when they answer; the figure stops when uPlot has drawn the month in the ${PATH} chart.`,
    '',
    '| run | click → month drawn | points drawn | the aggregate route alone (Node fetch) |',
    '|---|---|---|---|',
    ...rows.map(
      (r, i) => `| ${i + 1} | ${r.clickToDrawnMs.toFixed(0)} ms | ${r.points} | ${r.routeMs.toFixed(0)} ms |`,
    ),
    `| **median** | **${median(rows.map((r) => r.clickToDrawnMs)).toFixed(0)} ms** (target < 300 ms) | ${median(rows.map((r) => r.points))} | ${median(rows.map((r) => r.routeMs)).toFixed(0)} ms |`,
    '',
  ];
}
