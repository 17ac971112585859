/**
 * `npx tsx bench/duplicates/append-overhead.ts`: what the exactly-once check costs the history
 * store's append path. Same process, alternating runs: group commits of 1,000 messages × 5 readings
 * over 1,000 series (as ingest makes them), points without a source time vs the same with
 * `once: true` (in time order: the fast path), and `once: true` resending the previous batch (every
 * point a duplicate: the slow path, all skipped). SQLite synchronous FULL. Prints points/s; not
 * appended to RESULTS.md (bench/RESULTS.md quotes it by hand).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { HistoryPoint } from '../../src/core/ports/storage-ports.js';
import { openSqliteStorage } from '../../src/adapters/sqlite/sqlite-storage.js';

const SECONDS = Number(process.argv[process.argv.indexOf('--seconds') + 1]) || 3;
const ROUNDS = 3;
type Mode = 'plain' | 'once' | 'resend';

async function run(mode: Mode): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinloop-bench-dedupe-'));
  const storage = openSqliteStorage({ dataDir: dir, synchronous: 'FULL' });
  let t = 1_700_000_000_000;
  let points = 0;
  const end = performance.now() + SECONDS * 1000;
  let previous: HistoryPoint[] = [];
  while (performance.now() < end) {
    let batch: HistoryPoint[];
    if (mode === 'resend' && previous.length) batch = previous;
    else {
      batch = [];
      for (let m = 0; m < 1000; m++) {
        t++;
        for (const name of ['temperature', 'vibration', 'pressure', 'flow', 'rpm']) {
          const p: HistoryPoint = {
            workspace: 'default',
            twinId: `pump-${m}`,
            path: name,
            kind: 'telemetry',
            ts: t,
            value: m,
          };
          if (mode !== 'plain') p.once = true;
          batch.push(p);
        }
      }
    }
    // 1,000 appends in one tick: one group commit, as the ingest service makes them.
    const appends: Promise<void>[] = [];
    for (let i = 0; i < batch.length; i += 5) appends.push(storage.history.append(batch.slice(i, i + 5)));
    await Promise.all(appends);
    points += batch.length;
    previous = batch;
  }
  const elapsed = SECONDS;
  await storage.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return points / elapsed;
}

const out: Record<Mode, number[]> = { plain: [], once: [], resend: [] };
for (let r = 0; r < ROUNDS; r++)
  for (const m of ['plain', 'once', 'resend'] as const) out[m].push(await run(m));
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
for (const m of ['plain', 'once', 'resend'] as const)
  console.log(
    `${m.padEnd(6)} ${Math.round(median(out[m])).toLocaleString('en-US')} points/s (runs: ${out[m].map((v) => Math.round(v)).join(', ')})`,
  );
console.log(`once/plain ratio: ${(median(out.once) / median(out.plain)).toFixed(3)}`);
