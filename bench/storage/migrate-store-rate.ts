/**
 * Copy rate of `twinloop migrate-store` (npx tsx bench/storage/migrate-store-rate.ts; reads PG_URL):
 * a data folder with --points history points (default 1,000,000) over --series series (default 100,
 * 1 Hz, numbers) written straight through the SQLite history store, then moved into a fresh
 * PostgreSQL schema by the command's own code path (lock, open, copy, count check). Prints the copy
 * rate in points/s and the wall time of the count check; drops the schema and the folder.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { openSqliteStorage } from '../../src/adapters/sqlite/sqlite-storage.js';
import { migrateStoreCommand } from '../../src/app/cli/cmd-migrate-store.js';
import type { HistoryPoint } from '../../src/core/ports/storage-ports.js';

const args = process.argv.slice(2);
const arg = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const POINTS = arg('points', 1_000_000);
const SERIES = arg('series', 100);
const BATCH = arg('batch', 50_000);
const URL_BASE = process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinloop-migrate-bench-'));
const schema = `tl_bench_${crypto.randomBytes(5).toString('hex')}`;
try {
  const t0 = Date.now();
  const s = openSqliteStorage({ dataDir: dir, synchronous: 'NORMAL' });
  const per = Math.ceil(POINTS / SERIES);
  const start = Date.UTC(2026, 0, 1);
  let written = 0;
  for (let k = 0; k < SERIES && written < POINTS; k++) {
    for (let i = 0; i < per && written < POINTS; i += 50_000) {
      const n = Math.min(50_000, per - i, POINTS - written);
      const pts: HistoryPoint[] = new Array<HistoryPoint>(n);
      for (let j = 0; j < n; j++) {
        pts[j] = {
          workspace: 'default',
          twinId: `pump-${k}`,
          path: 'pressure',
          kind: 'telemetry',
          ts: start + (i + j) * 1000,
          value: Math.round(Math.sin((i + j) / 60) * 1000) / 10,
        };
      }
      await s.history.append(pts);
      written += n;
    }
  }
  await s.close();
  const genMs = Date.now() - t0;
  const size = fs.statSync(path.join(dir, 'twinloop.db')).size;
  const url = new URL(URL_BASE);
  url.searchParams.set('schema', schema);
  const out: string[] = [];
  const t1 = Date.now();
  const code = await migrateStoreCommand({
    from: dir,
    to: url.toString(),
    historyBatch: BATCH,
    stdout: { write: (x: string) => out.push(x) },
    stderr: process.stderr,
  });
  const totalMs = Date.now() - t1;
  process.stdout.write(out.join(''));
  process.stdout.write(
    `\n${written.toLocaleString('en-US')} points in ${SERIES} series (generated in ${(genMs / 1000).toFixed(1)} s, ` +
      `${(size / 1e6).toFixed(1)} MB): command wall time ${(totalMs / 1000).toFixed(1)} s ` +
      `(copy + both count passes), ${Math.round((written / totalMs) * 1000).toLocaleString('en-US')} points/s end to end; exit ${code}\n`,
  );
} finally {
  const c = new pg.Client({ connectionString: URL_BASE });
  await c.connect();
  await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  await c.end();
  fs.rmSync(dir, { recursive: true, force: true });
}
