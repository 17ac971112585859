/**
 * bench:web, 50 live charts: a twin of a model with 50 telemetry values, sent over MQTT 10 times a
 * second (every message carries all 50: 10 updates/s per chart), its page open in Chromium for
 * `soakS` seconds (default 300). Figures, over the soak after a 20 s warm-up:
 * - frame time: for every frame, from the start of its requestAnimationFrame callback until the main
 *   thread is next free (a MessageChannel message posted in the callback runs after the frame's
 *   script, style, layout and paint, and after any task queued before it, such as live-stream
 *   messages): the work of producing that frame. p50 / p95 / p99 / max. Target p95 < 16 ms.
 * - frames late: frame intervals over 25 ms (a 60 Hz frame missed), in % of frames.
 * - main thread busy: CDP Performance metrics (TaskDuration) over the soak, in % of wall time.
 * - memory: the JS heap after a forced GC (CDP), every 30 s, and the DOM nodes: no growth.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import mqtt from 'mqtt';
import type { Browser } from 'playwright-core';
import type { Platform } from '../../src/app/platform.js';
import { mib, quantile } from './web-bench-support.js';

const N = 50;
const MODEL = 'dtmi:bench:web:Wide;1';
const TWIN = 'wide-1';
const names = Array.from({ length: N }, (_, i) => `t${String(i).padStart(2, '0')}`);

export interface LiveChartsResult {
  charts: number;
  messagesSent: number;
  frames: number;
  frameMs: { p50: number; p95: number; p99: number; max: number };
  lateFramesPct: number;
  busyPct: number;
  heap: { atS: number; usedBytes: number; nodes: number }[];
}

async function ensureTwin(base: string): Promise<void> {
  const model = {
    '@context': 'dtmi:dtdl:context;3',
    '@id': MODEL,
    '@type': 'Interface',
    displayName: 'Bench: 50 telemetry values',
    contents: names.map((name) => ({ '@type': 'Telemetry', name, schema: 'double' })),
  };
  const up = await fetch(`${base}/models?api-version=2023-10-31`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify([model]),
  });
  if (up.status !== 201 && up.status !== 409)
    throw new Error(`model upload: ${up.status} ${await up.text()}`);
  const put = await fetch(`${base}/digitaltwins/${TWIN}?api-version=2023-10-31`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ $metadata: { $model: MODEL } }),
  });
  if (!put.ok) throw new Error(`twin: ${put.status} ${await put.text()}`);
}

export async function liveCharts(
  browser: Browser,
  platform: Platform,
  soakS: number,
): Promise<LiveChartsResult> {
  const base = platform.runtime.httpUrl;
  await ensureTwin(base);
  const device = await mqtt.connectAsync(platform.runtime.mqttUrl, { clientId: 'bench-web-wide' });
  let sent = 0;
  const publish = () => {
    const t = Date.now() / 1000;
    const values: Record<string, number> = {};
    names.forEach((n, i) => (values[n] = Math.sin(t / 5 + i) * (1 + i / 10) + Math.random() * 0.05));
    device.publish(`twins/${TWIN}/telemetry`, JSON.stringify(values), { qos: 0 });
    sent++;
  };
  for (let i = 0; i < 20; i++) {
    publish();
    await new Promise((r) => setTimeout(r, 100));
  }
  const timer = setInterval(publish, 100);
  const ctx = await browser.newContext({ viewport: { width: 1366, height: 850 } });
  try {
    const page = await ctx.newPage();
    const cdp = await ctx.newCDPSession(page);
    await cdp.send('Performance.enable');
    await cdp.send('HeapProfiler.enable');
    await page.goto(`${base}/app/twin?id=${TWIN}`);
    await page.getByRole('status').filter({ hasText: 'Live' }).waitFor();
    await page
      .locator('.chart')
      .nth(N - 1)
      .waitFor({ timeout: 30_000 });
    const charts = (await page.evaluate("document.querySelectorAll('.chart').length")) as number;
    await new Promise((r) => setTimeout(r, 20_000)); // warm-up: JIT, the live window starts filling
    // The frame probe: rAF → a message posted in the callback, handled once the main thread is free.
    await page.evaluate(`(() => {
      const w = window;
      w.__frames = []; w.__intervals = []; w.__probe = true;
      const ch = new MessageChannel();
      let start = 0, last = 0;
      ch.port1.onmessage = () => { w.__frames.push(performance.now() - start); };
      const tick = (t) => {
        if (!w.__probe) return;
        if (last) w.__intervals.push(t - last);
        last = t; start = performance.now();
        ch.port2.postMessage(0);
        requestAnimationFrame(tick);
      };
      requestAnimationFrame(tick);
    })()`);
    const metric = async () => {
      const { metrics } = (await cdp.send('Performance.getMetrics')) as {
        metrics: { name: string; value: number }[];
      };
      const m = new Map(metrics.map((x) => [x.name, x.value]));
      return { task: m.get('TaskDuration') ?? 0, nodes: m.get('Nodes') ?? 0 };
    };
    const heap: LiveChartsResult['heap'] = [];
    const sampleHeap = async (atS: number) => {
      await cdp.send('HeapProfiler.collectGarbage');
      const u = (await cdp.send('Runtime.getHeapUsage')) as { usedSize: number };
      heap.push({ atS, usedBytes: u.usedSize, nodes: (await metric()).nodes });
    };
    // BENCH_CPU_PROF=dir: a CPU profile of the page over the soak (build the app with --minify false to read it).
    const profDir = process.env.BENCH_CPU_PROF;
    if (profDir) {
      await cdp.send('Profiler.enable');
      await cdp.send('Profiler.start');
    }
    const m0 = await metric();
    const w0 = performance.now();
    await sampleHeap(0);
    for (let s = 30; s <= soakS; s += 30) {
      await new Promise((r) => setTimeout(r, 30_000 - ((performance.now() - w0) % 30_000)));
      await sampleHeap(s);
    }
    const m1 = await metric();
    if (profDir) {
      const { profile } = (await cdp.send('Profiler.stop')) as { profile: unknown };
      writeFileSync(path.join(profDir, `web-live-charts-${Date.now()}.cpuprofile`), JSON.stringify(profile));
    }
    const wall = (performance.now() - w0) / 1000;
    const { frames, intervals } = (await page.evaluate(
      '(() => { window.__probe = false; return { frames: window.__frames, intervals: window.__intervals }; })()',
    )) as { frames: number[]; intervals: number[] };
    return {
      charts,
      messagesSent: sent,
      frames: frames.length,
      frameMs: {
        p50: quantile(frames, 0.5),
        p95: quantile(frames, 0.95),
        p99: quantile(frames, 0.99),
        max: Math.max(...frames),
      },
      lateFramesPct: (100 * intervals.filter((x) => x > 25).length) / Math.max(1, intervals.length),
      busyPct: (100 * (m1.task - m0.task)) / wall,
      heap,
    };
  } finally {
    clearInterval(timer);
    await ctx.close();
    await device.endAsync();
  }
}

export function liveChartsBlock(r: LiveChartsResult, soakS: number): string[] {
  const first = r.heap[0]!;
  const half = r.heap.find((h) => h.atS >= soakS / 2) ?? first;
  const last = r.heap[r.heap.length - 1]!;
  return [
    '#### 50 live charts at 10 updates/s each',
    '',
    `A twin with 50 telemetry values, all 50 sent over MQTT 10 times a second; its page open for ${soakS} s after a 20 s warm-up (${r.charts} charts on the page, ${r.messagesSent.toLocaleString('en-US')} messages sent). Frame time: from a frame's requestAnimationFrame callback to the main thread next free (its script, style, layout, paint and the live messages queued before it).`,
    '',
    '| frames | frame time p50 / p95 / p99 / max | frames late (> 25 ms apart) | main thread busy | JS heap after GC: start / half-way / end (max) | DOM nodes start / end |',
    '|---|---|---|---|---|---|',
    `| ${r.frames.toLocaleString('en-US')} | ${r.frameMs.p50.toFixed(1)} / **${r.frameMs.p95.toFixed(1)}** / ${r.frameMs.p99.toFixed(1)} / ${r.frameMs.max.toFixed(0)} ms (target p95 < 16 ms) | ${r.lateFramesPct.toFixed(1)} % | ${r.busyPct.toFixed(0)} % | ${mib(first.usedBytes)} / ${mib(half.usedBytes)} / **${mib(last.usedBytes)}** (${mib(Math.max(...r.heap.map((h) => h.usedBytes)))}) | ${first.nodes} / ${last.nodes} |`,
    '',
    `Heap every 30 s: ${r.heap.map((h) => `${h.atS} s ${mib(h.usedBytes)}`).join(', ')}.`,
    '',
  ];
}
