/**
 * `npm run bench:routes`: event-route delivery to a local webhook. A whole Twinloop (in this process)
 * takes twin changes at a target rate (JSON Patch updates through the twin service, each committed
 * with its outbox row) while a route sends every Twin.Update to a webhook in another process.
 * Reports the commit rate reached, delivery throughput, and latency from commit to receipt (p50,
 * p99, max), and how long the backlog took to drain after the writes stopped.
 * --kind twin (default): twin property updates, each its own transaction (with FULL synchronous,
 * one fsync per change: the disk bounds the rate); --kind telemetry: readings through the ingest
 * service, journaled with the history group commit (many changes per commit).
 * Options: --duration S (10), --rate R changes/s (10000), --twins N (1000), --concurrency C (64),
 * --synchronous FULL|NORMAL (the config default), --batch N (the webhook's maxEventsPerBatch, 1:
 * one event per request, the default as in Event Grid), --dry (do not append to bench/RESULTS.md).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { cliLayer, resolveConfig } from '../../src/app/config.js';
import { startPlatform } from '../../src/app/platform.js';
import { loadNote } from '../machine-note.js';
import { appendResults, numberFlag } from '../results-file.js';

const here = dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const DURATION_S = numberFlag(argv, '--duration', 10);
const RATE = numberFlag(argv, '--rate', 10_000);
const TWINS = numberFlag(argv, '--twins', 1000);
const CONCURRENCY = numberFlag(argv, '--concurrency', 64);
const syncArg = argv.indexOf('--synchronous');
const SYNC = syncArg >= 0 ? (argv[syncArg + 1] as 'FULL' | 'NORMAL') : undefined;
const DRY = argv.includes('--dry');
const BATCH = numberFlag(argv, '--batch', 1);
const kindArg = argv.indexOf('--kind');
const KIND = kindArg >= 0 ? argv[kindArg + 1] : 'twin';
if (KIND !== 'twin' && KIND !== 'telemetry') throw new Error('--kind is twin or telemetry');
const TICK_MS = 10;

interface Report {
  count: number;
  duplicates: number;
  first: number;
  last: number;
  p50: number;
  p99: number;
  max: number;
}

function next<T>(c: ChildProcess, type: string): Promise<T> {
  return new Promise((resolve) => {
    const on = (m: { type: string }) => {
      if (m.type !== type) return;
      c.off('message', on);
      resolve(m as T);
    };
    c.on('message', on);
  });
}

async function main(): Promise<void> {
  const receiver = fork(join(here, 'receiver.ts'), [], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const { port } = await next<{ port: number }>(receiver, 'ready');
  const dir = mkdtempSync(join(tmpdir(), 'twinloop-bench-routes-'));
  const config = resolveConfig([
    cliLayer({
      data: dir,
      httpPort: '0',
      mqttPort: '0',
      logLevel: 'silent',
      sim: 'off',
      shadow: 'off',
      pilot: 'none',
    }),
    {
      ...(SYNC ? { history: { synchronous: SYNC } } : {}),
      eventRoutes: {
        concurrency: CONCURRENCY,
        endpoints: [
          {
            name: 'bench',
            type: 'webhook',
            url: `http://127.0.0.1:${port}/events`,
            ...(BATCH > 1 ? { maxEventsPerBatch: BATCH } : {}),
          },
        ],
      },
    },
  ]);
  const p = await startPlatform(config, { logger: pino({ level: 'silent' }), banner: false });
  try {
    await p.models.add([
      {
        '@context': 'dtmi:dtdl:context;3',
        '@id': 'dtmi:bench:Meter;1',
        '@type': 'Interface',
        contents: [
          { '@type': 'Property', name: 'v', schema: 'integer' },
          { '@type': 'Telemetry', name: 'flow', schema: 'double' },
        ],
      },
    ]);
    const ids = Array.from({ length: TWINS }, (_, i) => `m-${i}`);
    for (const id of ids)
      await p.twins.createOrReplace(id, { $metadata: { $model: 'dtmi:bench:Meter;1' }, v: 0 });
    await p.eventRoutes.service.putRoute('bench', {
      endpointName: 'bench',
      filter:
        KIND === 'twin' ? "type = 'Microsoft.DigitalTwins.Twin.Update'" : "type = 'microsoft.iot.telemetry'",
    });

    // Writes: RATE/s in ticks of TICK_MS, round-robin over the twins.
    const perTick = Math.max(1, Math.round((RATE * TICK_MS) / 1000));
    let written = 0;
    let failed = 0;
    const t0 = Date.now();
    const end = t0 + DURATION_S * 1000;
    let tick = 0;
    while (Date.now() < end) {
      tick++;
      // A tick's changes are issued together (as concurrent clients would), each to another twin.
      const batch: Promise<void>[] = [];
      for (let i = 0; i < perTick; i++) {
        const n = written + i;
        const id = ids[n % ids.length]!;
        const change =
          KIND === 'twin'
            ? p.twins.update(id, [{ op: 'replace', path: '/v', value: n }])
            : p.ingest
                .ingest({
                  source: 'bench',
                  workspace: 'default',
                  twinId: id,
                  receivedAt: Date.now(),
                  payload: Buffer.from(`{"flow":${n}}`),
                })
                .then((o) => {
                  if (!o.ok) throw new Error(o.reason);
                });
        batch.push(
          change.then(
            () => undefined,
            () => {
              failed++;
            },
          ),
        );
      }
      written += perTick;
      await Promise.all(batch);
      const due = t0 + tick * TICK_MS;
      const wait = due - Date.now();
      await new Promise((r) => (wait > 0 ? setTimeout(r, wait) : setImmediate(r)));
    }
    const writeS = (Date.now() - t0) / 1000;
    const stopWrites = Date.now();
    // Drain: wait until the webhook has everything (or 120 s).
    let report: Report;
    for (;;) {
      receiver.send({ type: 'report' });
      report = await next<Report>(receiver, 'report');
      if (report.count >= written - failed || Date.now() - stopWrites > 120_000) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const drainS = (Date.now() - stopWrites) / 1000;
    const deliverS = (report.last - report.first) / 1000 || 1;
    const lines = [
      `## Event-route delivery to a local webhook (bench/routes/run.ts) — ${new Date().toISOString()}`,
      '',
      loadNote(),
      `${cpus().length} cores; ${KIND} changes; ${TWINS} twins; target ${RATE} changes/s for ${DURATION_S} s; concurrency ${CONCURRENCY}; ${BATCH > 1 ? `batches of up to ${BATCH} events per request` : 'one event per request'}; synchronous ${config.history.synchronous}.`,
      '',
      '| figure | value |',
      '|---|---|',
      `| changes committed | ${written - failed} (${((written - failed) / writeS).toFixed(0)}/s${failed ? `, ${failed} failed` : ''}) |`,
      `| events delivered | ${report.count} (${(report.count / deliverS).toFixed(0)}/s; ${report.duplicates} duplicates) |`,
      `| latency commit → webhook, p50 / p99 / max | ${report.p50} / ${report.p99} / ${report.max} ms |`,
      `| drain after the writes stopped | ${drainS.toFixed(1)} s |`,
      '',
    ];
    const block = lines.join('\n');
    console.log(block);
    if (!DRY) appendResults(block);
    if (report.count < written - failed) process.exitCode = 1;
  } finally {
    await p.stop();
    receiver.send({ type: 'stop' });
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
