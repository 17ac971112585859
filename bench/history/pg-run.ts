/**
 * PostgreSQL history benchmark (npm run bench:history:pg; reads PG_URL):
 *  (a) durable append throughput as the ingest path makes it: 1,000 series, messages of 5 readings
 *      with a device source time (`once`), many messages in flight so group commits gather them;
 *      once with multi-row INSERT from unnest arrays, once with COPY;
 *  (b) one series of 30 days at 1 Hz (2.6M points) read as 1,000 buckets through the store (minute
 *      rollups + raw edges), against the same aggregate in plain SQL over the raw points.
 * Uses a schema of its own and drops it. Prints a markdown block (the merger records results).
 *
 * Options: --seconds N (each throughput run, default 8), --inflight N (messages in flight, default
 * 4,000), --points N (the long series, default 2,592,000), --runs N (query runs, default 15),
 * --only append|aggregate.
 */
import crypto from 'node:crypto';
import pg from 'pg';
import type { AggregateFn, HistoryPoint } from '../../src/core/ports/storage-ports.js';
import { openPgDatabase, type PgDatabase } from '../../src/adapters/postgres/pg-database.js';
import { PG_HISTORY_MIGRATIONS, PgHistoryStore } from '../../src/adapters/postgres/pg-history-store.js';

const args = process.argv.slice(2);
const arg = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const SECONDS = arg('seconds', 5);
const ONLY = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const INFLIGHT = arg('inflight', 4000);
const LONG = arg('points', 30 * 86_400);
const RUNS = arg('runs', 15);
const URL = process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function withSchema<T>(fn: (db: PgDatabase) => Promise<T>): Promise<T> {
  const schema = `tl_bench_${crypto.randomBytes(5).toString('hex')}`;
  const db = await openPgDatabase({ url: URL, schema, migrations: [PG_HISTORY_MIGRATIONS], poolSize: 4 });
  try {
    return await fn(db);
  } finally {
    await db.close();
    const c = new pg.Client({ connectionString: URL });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await c.end();
  }
}

interface Throughput {
  write: 'insert' | 'copy';
  pointsPerSec: number;
  commitsPerSec: number;
  pointsPerCommit: number;
  commitP50: number;
  commitP99: number;
}

async function throughput(write: 'insert' | 'copy'): Promise<Throughput> {
  return withSchema(async (db) => {
    const ms: number[] = [];
    let points = 0;
    const store = await PgHistoryStore.open(db, {
      write,
      onCommit: (i) => {
        if (!i.failed) {
          ms.push(i.ms);
          points += i.items;
        }
      },
    });
    const SERIES_TWINS = 200; // 200 twins × 5 readings = 1,000 series
    let msg = 0;
    let t = Date.UTC(2026, 0, 1);
    const message = (): HistoryPoint[] => {
      const twin = `pump-${msg++ % SERIES_TWINS}`;
      if (msg % SERIES_TWINS === 0) t += 1000;
      return ['temperature', 'pressure', 'flow', 'vibration', 'current'].map((path, k) => ({
        workspace: 'default',
        twinId: twin,
        path,
        kind: 'telemetry' as const,
        ts: t,
        value: 20 + k + (msg % 97) / 10,
        once: true,
      }));
    };
    // warm-up: create the series and the partition
    await Promise.all(Array.from({ length: SERIES_TWINS }, () => store.append(message())));
    ms.length = 0;
    points = 0;
    const end = performance.now() + SECONDS * 1000;
    const start = performance.now();
    const worker = async (): Promise<void> => {
      while (performance.now() < end) await store.append(message());
    };
    await Promise.all(Array.from({ length: INFLIGHT }, worker));
    const secs = (performance.now() - start) / 1000;
    await store.close();
    ms.sort((a, b) => a - b);
    return {
      write,
      pointsPerSec: points / secs,
      commitsPerSec: ms.length / secs,
      pointsPerCommit: points / Math.max(1, ms.length),
      commitP50: pct(ms, 50),
      commitP99: pct(ms, 99),
    };
  });
}

async function aggregates(): Promise<string[]> {
  return withSchema(async (db) => {
    const store = await PgHistoryStore.open(db, { write: 'copy', maxCommitPoints: 100_000 });
    const from = Date.UTC(2026, 0, 1);
    const loadStart = performance.now();
    const BATCH = 50_000;
    for (let i = 0; i < LONG; i += BATCH) {
      const pts: HistoryPoint[] = [];
      for (let k = i; k < Math.min(LONG, i + BATCH); k++) {
        pts.push({
          workspace: 'default',
          twinId: 'pump-1',
          path: 'flow',
          kind: 'telemetry',
          ts: from + k * 1000,
          value: Math.sin(k / 500) * 10 + (k % 7),
          once: true,
        });
      }
      await store.append(pts);
    }
    const loadSecs = (performance.now() - loadStart) / 1000;
    await db.query('VACUUM ANALYZE history_points');
    await db.query('VACUUM ANALYZE history_rollups');
    const to = from + LONG * 1000;
    const interval = (to - from) / 1000;
    const q = { workspace: 'default', twinId: 'pump-1', path: 'flow', from, to, interval };
    const lines: string[] = [
      `- loaded ${LONG.toLocaleString('en-US')} points of one series in ${loadSecs.toFixed(1)} s (${Math.round(LONG / loadSecs).toLocaleString('en-US')} points/s, commits of ${BATCH.toLocaleString('en-US')})`,
    ];
    const time = async (name: string, fn: () => Promise<string>): Promise<void> => {
      await fn();
      const t: number[] = [];
      let result = '';
      for (let r = 0; r < RUNS; r++) {
        const s = performance.now();
        result = await fn();
        t.push(performance.now() - s);
      }
      t.sort((a, b) => a - b);
      lines.push(`- ${name}: p50 ${pct(t, 50).toFixed(1)} ms, p99 ${pct(t, 99).toFixed(1)} ms (${result})`);
    };
    const sets: AggregateFn[][] = [
      ['avg'],
      ['avg', 'min', 'max', 'first', 'last'],
      ['first', 'last'],
      ['count', 'sum', 'min', 'max'],
    ];
    for (const fns of sets) {
      await time(`store: 1,000 buckets ${fns.join('+')}`, async () => {
        const b = await store.queryAggregate({ ...q, fns });
        return `${b.length} buckets, ${b.reduce((a, x) => a + x.count, 0)} points`;
      });
    }
    await time('store: raw page of 1,000 (mid-range)', async () => {
      const p = await store.queryRaw({ ...q, from: from + (to - from) / 2, limit: 1000 });
      return `${p.points.length} points`;
    });
    const plainRuns = Math.min(RUNS, 5);
    const t: number[] = [];
    for (let r = 0; r < plainRuns; r++) {
      const s = performance.now();
      await db.query(
        `SELECT floor((ts - $1::float8) / $2::float8)::int AS b, count(*), avg(num), min(num), max(num)
           FROM history_points WHERE series_id = (SELECT id FROM history_series WHERE twin_id = 'pump-1')
            AND ts >= $1 AND ts < $3 GROUP BY 1`,
        [from, interval, to],
      );
      t.push(performance.now() - s);
    }
    t.sort((a, b) => a - b);
    lines.push(`- plain SQL GROUP BY over the raw points (no rollups): p50 ${pct(t, 50).toFixed(0)} ms`);
    await store.close();
    return lines;
  });
}

const out: string[] = [`### PostgreSQL history (${new Date().toISOString()})`, ''];
for (const write of ONLY === 'aggregate' ? [] : (['insert', 'copy'] as const)) {
  const r = await throughput(write);
  out.push(
    `- append (${r.write}), 1,000 series, ${INFLIGHT} messages of 5 readings in flight, ${SECONDS} s: ` +
      `${Math.round(r.pointsPerSec).toLocaleString('en-US')} points/s, ${r.commitsPerSec.toFixed(0)} commits/s ` +
      `of ${Math.round(r.pointsPerCommit)} points, commit p50 ${r.commitP50.toFixed(1)} ms, p99 ${r.commitP99.toFixed(1)} ms`,
  );
  console.log(out.at(-1));
}
for (const l of ONLY === 'append' ? [] : await aggregates()) {
  out.push(l);
  console.log(l);
}
console.log(`\n${out.join('\n')}`);
