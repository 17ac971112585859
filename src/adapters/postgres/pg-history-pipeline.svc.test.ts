/**
 * The PostgreSQL history store with several group commits in flight (pg-commit-pipeline.ts), the
 * latest values kept by the roll-up (pg-history-rollup.ts) and the series generation that makes a
 * node read its cached series ids again after a twin was deleted elsewhere (pg-history-commit.ts).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HistoryPoint, HistoryValue } from '../../core/ports/storage-ports.js';
import { pgTestDatabase } from './pg-test-fixture.js';
import {
  deleteTwinIn,
  PG_HISTORY_MIGRATIONS,
  PgHistoryStore,
  type PgHistoryCommitInfo,
} from './pg-history-store.js';

const MIN = 60_000;
const pt = (twinId: string, path: string, ts: number, value: HistoryValue, once = false): HistoryPoint => ({
  workspace: 'w',
  twinId,
  path,
  kind: 'telemetry',
  ts,
  value,
  ...(once ? { once } : {}),
});

describe('PgHistoryStore: pipelined commits, latest values, series generation', () => {
  let db: Awaited<ReturnType<typeof pgTestDatabase>>;
  let store: PgHistoryStore;
  const commits: PgHistoryCommitInfo[] = [];
  beforeEach(async () => {
    db = await pgTestDatabase([PG_HISTORY_MIGRATIONS]);
    commits.length = 0;
    store = await PgHistoryStore.open(db, {
      rollupEveryMs: 0,
      maxInFlight: 3,
      onCommit: (i) => commits.push(i),
    });
  });
  afterEach(async () => {
    await store.close();
    await db.drop();
  });
  const count = async (sql: string, params: unknown[] = []) =>
    (await db.query<{ n: number }>(sql, params)).rows[0]!.n;
  const watermark = async () =>
    (await db.query<{ ts: number }>('SELECT ts FROM history_rollup_watermark')).rows[0]!.ts;

  it('commits overlapping in flight store every point once; rollups (late and rolled-up) count each once', async () => {
    const w0 = await watermark();
    const appends: Promise<void>[] = [];
    let expected = 0;
    let sum = 0;
    for (let round = 0; round < 40; round++) {
      const pts: HistoryPoint[] = [];
      for (let d = 0; d < 20; d++) {
        // Half late (before the watermark: rolled up by the commit), half after it (by the roll-up);
        // a quarter are once points sent twice (a resend): stored once.
        const late = d % 2 === 0;
        const ts = late ? w0 - 5 * MIN + round * 100 + d : w0 + round * 100 + d;
        const once = d % 4 === 1;
        pts.push(pt(`t${d % 5}`, 'v', ts, round, once));
        if (once) pts.push(pt(`t${d % 5}`, 'v', ts, round, once));
        expected++;
        sum += round;
      }
      appends.push(store.append(pts));
      if (round % 3 === 0) await new Promise((r) => setImmediate(r));
    }
    await Promise.all(appends);
    expect(commits.filter((c) => c.failed)).toEqual([]);
    expect(commits.length).toBeGreaterThan(3); // several commits, not one
    expect(await count('SELECT count(*)::int AS n FROM history_points')).toBe(expected);
    await store.rollUp(w0 + 2 * MIN + 10_000 + 60_000);
    const r = await db.query<{ n: number; s: number }>(
      'SELECT sum(count)::int AS n, sum(sum)::float8 AS s FROM history_rollups',
    );
    expect(r.rows[0]).toEqual({ n: expected, s: sum });
  });

  it('a once point is stored unless a point at its time was stored before it, in this commit too', async () => {
    // Found by the aggregate property test: one commit, a once point then a plain one at one time.
    await store.append([pt('o1', 'v', 0, '', true), pt('o1', 'v', 0, 0)]);
    await store.append([pt('o2', 'v', 0, 0), pt('o2', 'v', 0, '', true)]);
    await store.append([pt('o3', 'v', 5, 1, true), pt('o3', 'v', 5, 2, true)]);
    const raw = async (twinId: string) =>
      (await store.queryRaw({ workspace: 'w', twinId, path: 'v', from: 0, to: 100, limit: 10 })).points;
    expect(await raw('o1')).toEqual([
      { ts: 0, value: '' },
      { ts: 0, value: 0 },
    ]);
    expect(await raw('o2')).toEqual([{ ts: 0, value: 0 }]);
    expect(await raw('o3')).toEqual([{ ts: 5, value: 1 }]);
  });

  it('the latest value is the newest raw point after the watermark, then the one the roll-up stored', async () => {
    const w0 = await watermark();
    await store.append([pt('a', 'v', w0 + 1000, 1), pt('a', 'v', w0 + 3000, 3), pt('a', 'v', w0 + 2000, 2)]);
    const latest = async () => (await store.latestTelemetry('w', ['a'])).get('a')?.v;
    expect(await latest()).toEqual({ value: 3, time: w0 + 3000 });
    expect((await store.listSeries('w', 'a'))[0]).toMatchObject({ lastTs: w0 + 3000, lastValue: 3 });
    const stored = async () =>
      (await db.query('SELECT last_ts, last_num, last_json FROM history_series WHERE twin_id = $1', ['a']))
        .rows[0];
    expect(await stored()).toEqual({ last_ts: null, last_num: null, last_json: null }); // not on the commit path
    await store.rollUp(w0 + 10_000 + 5000);
    expect(await stored()).toEqual({ last_ts: w0 + 3000, last_num: null, last_json: '3' });
    expect(await latest()).toEqual({ value: 3, time: w0 + 3000 });
    // A late point older than the latest changes nothing; a late one newer does, in its commit.
    await store.append([pt('a', 'v', w0 + 2500, 25)]);
    expect(await latest()).toEqual({ value: 3, time: w0 + 3000 });
    await store.append([pt('a', 'v', w0 + 4000, { deep: [1, 'x'] })]);
    expect(await latest()).toEqual({ value: { deep: [1, 'x'] }, time: w0 + 4000 });
    // A point after the watermark wins over the stored one; strings stay strings.
    await store.append([pt('a', 'v', w0 + 60_000, 'on')]);
    expect(await latest()).toEqual({ value: 'on', time: w0 + 60_000 });
  });

  it('a twin deleted through another node: this node reads its series ids again, nothing is orphaned', async () => {
    await store.append([pt('gone', 'v', 1000, 1), pt('kept', 'v', 1000, 1)]);
    // Another node (its own pool) deletes the twin's history in its own transaction.
    const other = await pgTestDatabase([PG_HISTORY_MIGRATIONS], db.schema);
    try {
      await other.transaction((c) => deleteTwinIn(c, 'w', 'gone'));
    } finally {
      await other.close();
    }
    // This node still holds the old ids in its cache: the commit sees the generation moved.
    await store.append([pt('gone', 'v', 2000, 2), pt('kept', 'v', 2000, 2)]);
    expect(
      await count(
        'SELECT count(*)::int AS n FROM history_points WHERE series_id NOT IN (SELECT id FROM history_series)',
      ),
    ).toBe(0);
    const raw = async (twinId: string) =>
      (await store.queryRaw({ workspace: 'w', twinId, path: 'v', from: 0, to: 1e9, limit: 10 })).points;
    expect(await raw('gone')).toEqual([{ ts: 2000, value: 2 }]);
    expect(await raw('kept')).toEqual([
      { ts: 1000, value: 1 },
      { ts: 2000, value: 2 },
    ]);
  });

  it('a roll-up and a twin deletion get their turn while commits overlap without a gap', async () => {
    const w0 = await watermark();
    let stop = false;
    let appended = 0;
    const load = (async () => {
      const inFlight = new Set<Promise<void>>();
      for (let i = 0; !stop; i++) {
        const p: Promise<void> = store
          .append(Array.from({ length: 200 }, (_, k) => pt(`l${k % 10}`, 'v', w0 + i * 10 + k / 100, k)))
          .then(() => {
            appended += 200;
            inFlight.delete(p);
          });
        inFlight.add(p);
        if (inFlight.size >= 4) await Promise.race(inFlight);
      }
      await Promise.all(inFlight);
    })();
    await new Promise((r) => setTimeout(r, 300));
    const t0 = Date.now();
    const rolled = await store.rollUp(w0 + 60_000);
    await db.transaction((c) => deleteTwinIn(c, 'w', 'l0'));
    const took = Date.now() - t0;
    const during = appended;
    await new Promise((r) => setTimeout(r, 200));
    stop = true;
    await load;
    expect(rolled.to).toBeGreaterThan(rolled.from);
    expect(took).toBeLessThan(10_000);
    expect(appended).toBeGreaterThan(during); // the load went on after both
    expect(
      await count(
        'SELECT count(*)::int AS n FROM history_points WHERE series_id NOT IN (SELECT id FROM history_series)',
      ),
    ).toBe(0);
  });
});
