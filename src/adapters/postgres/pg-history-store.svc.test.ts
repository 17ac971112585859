import fc from 'fast-check';
import type pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { describeHistoryStoreContract } from '../../core/ports/history-store.contract.js';
import type { HistoryPoint, HistoryValue } from '../../core/ports/storage-ports.js';
import { rollUpIn } from './pg-history-rollup.js';
import { pgTestDatabase } from './pg-test-fixture.js';
import {
  deleteTwinIn,
  PG_HISTORY_MIGRATIONS,
  PgHistoryStore,
  type PgHistoryCommitInfo,
} from './pg-history-store.js';

for (const write of ['insert', 'copy'] as const) {
  describeHistoryStoreContract(`postgresql (${write})`, async () => {
    let db = await pgTestDatabase([PG_HISTORY_MIGRATIONS]);
    const schema = db.schema;
    const fx = {
      store: await PgHistoryStore.open(db, { write }),
      async reopen() {
        await fx.store.close();
        await db.close();
        db = await pgTestDatabase([PG_HISTORY_MIGRATIONS], schema);
        fx.store = await PgHistoryStore.open(db, { write });
        return fx.store;
      },
      async cleanup() {
        await fx.store.close();
        await db.drop();
      },
      async failCommits() {
        await db.query(`CREATE FUNCTION fail_cp() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'disk says no'; END $$`);
        await db.query(
          'CREATE TRIGGER fail_cp BEFORE INSERT ON history_points FOR EACH ROW EXECUTE FUNCTION fail_cp()',
        );
        return async () => {
          await db.query('DROP TRIGGER fail_cp ON history_points');
          await db.query('DROP FUNCTION fail_cp()');
        };
      },
    };
    return fx;
  });
}

const DAY = 86_400_000;
const pt = (twinId: string, ts: number, value: HistoryValue, once = false): HistoryPoint => ({
  workspace: 'w',
  twinId,
  path: 'v',
  kind: 'telemetry',
  ts,
  value,
  ...(once ? { once } : {}),
});

/** -0 as 0: one reading value (PostgreSQL aggregates may answer either; JSON.stringify writes -0 as 0). */
const zero = <T>(x: T): T => (x === 0 ? (0 as T) : x);

describe('PgHistoryStore (PostgreSQL specifics)', () => {
  let db: Awaited<ReturnType<typeof pgTestDatabase>>;
  let store: PgHistoryStore;
  const commits: PgHistoryCommitInfo[] = [];
  let inCommit: (c: pg.PoolClient) => Promise<void> = async () => undefined;
  beforeEach(async () => {
    db = await pgTestDatabase([PG_HISTORY_MIGRATIONS]);
    commits.length = 0;
    inCommit = async () => undefined;
    // No timed roll-up: the tests below move the watermark themselves (their points lie in 1970,
    // below the watermark a roll-up at the real time sets, so they take the late path anyway).
    store = await PgHistoryStore.open(db, {
      onCommit: (i) => commits.push(i),
      inCommit: (c) => inCommit(c),
      rollupEveryMs: 0,
    });
  });
  afterEach(async () => {
    await store.close();
    await db.drop();
  });
  const partitions = async (): Promise<string[]> =>
    (
      await db.query<{ name: string }>(
        `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
          WHERE i.inhparent = 'history_points'::regclass ORDER BY 1`,
      )
    ).rows.map((r) => r.name);

  it(
    'aggregates from minute rollups equal the raw computation (property, windows of hours, with retention)',
    { timeout: 120_000 },
    async () => {
      let run = 0;
      const arb = fc.record({
        points: fc.array(
          fc.record({
            ts: fc.integer({ min: 0, max: 6 * 3_600_000 }),
            v: fc.oneof(
              fc.integer({ min: -1000, max: 1000 }),
              fc.double({ min: -1e6, max: 1e6, noNaN: true }),
              fc.constant('s'),
              // distinct text values: a first/last read from the wrong point shows
              fc.string({ maxLength: 4 }),
            ),
            once: fc.boolean(),
          }),
          { maxLength: 300 },
        ),
        from: fc.integer({ min: -3_600_000, max: 3 * 3_600_000 }),
        span: fc.integer({ min: 1, max: 8 * 3_600_000 }),
        interval: fc.oneof(
          fc.integer({ min: 1, max: 4 * 3_600_000 }),
          fc.constantFrom(60_000, 300_000, 3_600_000),
        ),
        pruneAt: fc.option(fc.integer({ min: 0, max: 6 * 3_600_000 })),
        batches: fc.integer({ min: 1, max: 4 }),
      });
      await fc.assert(
        fc.asyncProperty(arb, async ({ points, from, span, interval, pruneAt, batches }) => {
          const twin = `p${run++}`;
          await store.deleteTwin('w', `p${run - 2}`);
          const pts = points.map((p) => pt(twin, p.ts, p.v, p.once));
          const size = Math.ceil(pts.length / batches);
          for (let i = 0; i < pts.length; i += size) await store.append(pts.slice(i, i + size));
          // What was stored: once points are skipped when their (series, ts) already held a point.
          const held = new Set<number>();
          let stored: HistoryPoint[] = [];
          for (const p of pts) {
            if (p.once && held.has(p.ts)) continue;
            held.add(p.ts);
            stored.push(p);
          }
          if (pruneAt !== null) {
            const removed = await store.prune(pruneAt);
            const kept = stored.filter((p) => p.ts >= pruneAt);
            expect(removed).toBe(stored.length - kept.length);
            stored = kept;
          }
          const to = from + span;
          if (Math.ceil(span / interval) > 10_000) return;
          const got = await store.queryAggregate({
            workspace: 'w',
            twinId: twin,
            path: 'v',
            from,
            to,
            interval,
            fns: ['avg', 'min', 'max', 'sum', 'first', 'last'],
          });
          const n = Math.ceil(span / interval);
          expect(got).toHaveLength(n);
          const by = new Map<number, HistoryPoint[]>();
          for (const p of stored) {
            if (p.ts < from || p.ts >= to) continue;
            const b = Math.floor((p.ts - from) / interval);
            by.set(b, [...(by.get(b) ?? []), p]);
          }
          for (let b = 0; b < n; b++) {
            const g = got[b]!;
            const ps = by.get(b) ?? [];
            const nums = ps.map((p) => p.value).filter((v): v is number => typeof v === 'number');
            expect(g.start).toBe(from + b * interval);
            expect(g.count).toBe(ps.length);
            // -0 and 0 are one reading value (PostgreSQL's min/max may answer either).
            expect(zero(g.min)).toBe(nums.length ? zero(Math.min(...nums)) : null);
            expect(zero(g.max)).toBe(nums.length ? zero(Math.max(...nums)) : null);
            if (nums.length) {
              const s = nums.reduce((a, x) => a + x, 0);
              expect(g.sum).toBeCloseTo(s, 3);
              expect(g.avg).toBeCloseTo(s / nums.length, 3);
            } else expect(g.sum).toBeNull();
            if (ps.length) {
              const t0 = Math.min(...ps.map((p) => p.ts));
              const t1 = Math.max(...ps.map((p) => p.ts));
              expect(ps.filter((p) => p.ts === t0).map((p) => zero(p.value))).toContainEqual(zero(g.first));
              expect(ps.filter((p) => p.ts === t1).map((p) => zero(p.value))).toContainEqual(zero(g.last));
            }
          }
        }),
        { numRuns: 30 },
      );
    },
  );

  /** Rollup rows that differ from the aggregate of the raw points below the watermark, are missing, or lie at/above it. */
  const rollupMismatches = async (): Promise<unknown[]> =>
    // jit off: compiling this plan (high estimates on tables without statistics) takes ~100 ms
    db.transaction(async (c) => {
      await c.query('SET LOCAL jit = off');
      return (
        await c.query(
          `WITH w AS (SELECT ts AS until FROM history_rollup_watermark),
         raw AS (
           SELECT series_id, floor(ts / 60000)::bigint AS minute, count(*)::int AS count,
                  count(num)::int AS nnum, sum(num) AS sum, min(num) AS min, max(num) AS max,
                  min(ts) AS first_ts, max(ts) AS last_ts
             FROM history_points, w WHERE ts < w.until GROUP BY 1, 2
         )
         SELECT series_id, minute, raw.count, r.count AS r_count, raw.sum, r.sum AS r_sum
           FROM raw FULL JOIN history_rollups r USING (series_id, minute)
          WHERE r.count IS DISTINCT FROM raw.count OR r.nnum IS DISTINCT FROM raw.nnum
             OR r.min IS DISTINCT FROM raw.min OR r.max IS DISTINCT FROM raw.max
             OR r.first_ts IS DISTINCT FROM raw.first_ts OR r.last_ts IS DISTINCT FROM raw.last_ts
             OR abs(coalesce(r.sum, 0) - coalesce(raw.sum, 0)) > 1e-6 * greatest(1, abs(coalesce(raw.sum, 0)))`,
        )
      ).rows;
    });
  const watermark = async (): Promise<number> =>
    (await db.query<{ ts: number }>('SELECT ts FROM history_rollup_watermark')).rows[0]!.ts;
  const setWatermark = async (ts: number): Promise<void> => {
    // Only on an empty history: the invariant (no rollup at or above it) must hold.
    await db.query('DELETE FROM history_points; DELETE FROM history_rollups; DELETE FROM history_series');
    await db.query('UPDATE history_rollup_watermark SET ts = $1', [ts]);
  };

  it(
    'aggregates equal the raw computation with roll-ups between appends and late points below the watermark (property)',
    { timeout: 120_000 },
    async () => {
      const H = 3_600_000;
      // over all runs: points appended below the watermark (late path), rollup rows the roll-ups wrote
      let lateTotal = 0;
      let rolledTotal = 0;
      const arb = fc.record({
        batches: fc.array(
          fc.record({
            points: fc.array(
              fc.record({
                ts: fc.integer({ min: 0, max: 3 * H }),
                v: fc.oneof(
                  fc.integer({ min: -1000, max: 1000 }),
                  fc.double({ min: -1e6, max: 1e6, noNaN: true }),
                  fc.string({ maxLength: 4 }),
                ),
                once: fc.boolean(),
              }),
              { maxLength: 80 },
            ),
            // a roll-up after this batch, at this time (the watermark never moves back)
            rollAt: fc.option(fc.integer({ min: 0, max: 4 * H })),
          }),
          { minLength: 1, maxLength: 5 },
        ),
        from: fc.integer({ min: -H, max: 2 * H }),
        span: fc.integer({ min: 1, max: 4 * H }),
        interval: fc.oneof(fc.integer({ min: 1, max: 2 * H }), fc.constantFrom(60_000, 300_000, H)),
        pruneAt: fc.option(fc.integer({ min: 0, max: 3 * H })),
      });
      await fc.assert(
        fc.asyncProperty(arb, async ({ batches, from, span, interval, pruneAt }) => {
          await setWatermark(0);
          const s = await PgHistoryStore.open(db, { rollupEveryMs: 0, rollupLagMs: 0 });
          try {
            const held = new Set<number>();
            let stored: HistoryPoint[] = [];
            for (const b of batches) {
              const wm = await watermark();
              const pts = b.points.map((p) => pt('r', p.ts, p.v, p.once));
              await s.append(pts);
              for (const p of pts) {
                if (p.once && held.has(p.ts)) continue;
                held.add(p.ts);
                stored.push(p);
                if (p.ts < wm) lateTotal++;
              }
              if (b.rollAt !== null) {
                const r = await s.rollUp(b.rollAt);
                expect(r.to).toBe(Math.max(r.from, b.rollAt));
                rolledTotal += r.rows;
              }
              expect(await rollupMismatches()).toEqual([]);
            }
            if (pruneAt !== null) {
              const removed = await s.prune(pruneAt);
              const kept = stored.filter((p) => p.ts >= pruneAt);
              expect(removed).toBe(stored.length - kept.length);
              stored = kept;
              expect(await rollupMismatches()).toEqual([]);
            }
            const to = from + span;
            if (Math.ceil(span / interval) > 10_000) return;
            const got = await s.queryAggregate({
              workspace: 'w',
              twinId: 'r',
              path: 'v',
              from,
              to,
              interval,
              fns: ['avg', 'min', 'max', 'sum', 'first', 'last'],
            });
            const n = Math.ceil(span / interval);
            expect(got).toHaveLength(n);
            const by = new Map<number, HistoryPoint[]>();
            for (const p of stored) {
              if (p.ts < from || p.ts >= to) continue;
              const k = Math.floor((p.ts - from) / interval);
              by.set(k, [...(by.get(k) ?? []), p]);
            }
            for (let k = 0; k < n; k++) {
              const g = got[k]!;
              const ps = by.get(k) ?? [];
              const nums = ps.map((p) => p.value).filter((v): v is number => typeof v === 'number');
              expect(g.count).toBe(ps.length);
              // -0 and 0 are one reading value (PostgreSQL's min/max may answer either).
              expect(zero(g.min)).toBe(nums.length ? zero(Math.min(...nums)) : null);
              expect(zero(g.max)).toBe(nums.length ? zero(Math.max(...nums)) : null);
              if (nums.length)
                expect(g.sum).toBeCloseTo(
                  nums.reduce((a, x) => a + x, 0),
                  3,
                );
              else expect(g.sum).toBeNull();
              if (ps.length) {
                const t0 = Math.min(...ps.map((p) => p.ts));
                const t1 = Math.max(...ps.map((p) => p.ts));
                expect(ps.filter((p) => p.ts === t0).map((p) => zero(p.value))).toContainEqual(zero(g.first));
                expect(ps.filter((p) => p.ts === t1).map((p) => zero(p.value))).toContainEqual(zero(g.last));
              }
            }
          } finally {
            await s.close();
          }
        }),
        { numRuns: 40 },
      );
      expect(lateTotal).toBeGreaterThan(0);
      expect(rolledTotal).toBeGreaterThan(0);
    },
  );

  it('a commit holding the watermark lock (shared) makes the roll-up wait, which then rolls up its points', async () => {
    await setWatermark(0);
    const s = await PgHistoryStore.open(db, {
      rollupEveryMs: 0,
      rollupLagMs: 0,
      inCommit: (c) => inCommit(c),
    });
    let release: () => void = () => undefined;
    try {
      const gate = new Promise<void>((r) => (release = r));
      let entered!: () => void;
      const inside = new Promise<void>((r) => (entered = r));
      inCommit = async () => {
        entered();
        await gate;
      };
      // minutes 1 and 5: after the watermark (0), raw only in this commit
      const append = s.append([pt('c', 60_000 + 1, 1), pt('c', 5 * 60_000 + 2, 2)]);
      await inside;
      let rolled = false;
      const roll = s.rollUp(10 * 60_000).then((r) => ((rolled = true), r));
      await new Promise((r) => setTimeout(r, 300));
      expect(rolled).toBe(false);
      expect(await watermark()).toBe(0);
      release();
      await append;
      expect(await roll).toMatchObject({ from: 0, to: 10 * 60_000, rows: 2 });
      inCommit = async () => undefined;
      expect(await rollupMismatches()).toEqual([]);
      expect(
        (await db.query('SELECT minute::int, count::int FROM history_rollups ORDER BY minute')).rows,
      ).toEqual([
        { minute: 1, count: 1 },
        { minute: 5, count: 1 },
      ]);
    } finally {
      release();
      await s.close();
    }
  });

  it('a commit that starts while a roll-up holds the watermark waits, reads the new one and rolls up its own points', async () => {
    await setWatermark(0);
    const s = await PgHistoryStore.open(db, { rollupEveryMs: 0 });
    try {
      await s.append([pt('c', 30_000, 1)]); // raw only (after the watermark, 0)
      let appended = false;
      let append!: Promise<void>;
      await db.transaction(async (c) => {
        // exactly the store's roll-up, held open: the minutes [0, 10) rolled up, watermark at 10 min
        expect(await rollUpIn(c, 10 * 60_000)).toMatchObject({ from: 0, to: 10 * 60_000, rows: 1 });
        // minutes 2 and 20: before the new watermark (its commit must roll it up) and after it
        append = s.append([pt('c', 2 * 60_000, 5), pt('c', 20 * 60_000, 7)]).then(() => {
          appended = true;
        });
        await new Promise((r) => setTimeout(r, 300));
        expect(appended).toBe(false);
      });
      await append;
      expect(await watermark()).toBe(10 * 60_000);
      expect(await rollupMismatches()).toEqual([]);
      expect(
        (await db.query('SELECT minute::int, count::int, sum FROM history_rollups ORDER BY minute')).rows,
      ).toEqual([
        { minute: 0, count: 1, sum: 1 },
        { minute: 2, count: 1, sum: 5 },
      ]);
      const [b] = await s.queryAggregate({
        workspace: 'w',
        twinId: 'c',
        path: 'v',
        from: 0,
        to: 30 * 60_000,
        interval: 30 * 60_000,
        fns: ['sum', 'first', 'last'],
      });
      expect(b).toEqual({ start: 0, count: 3, sum: 13, first: 1, last: 7 });
    } finally {
      await s.close();
    }
  });

  it(
    'appends from two stores racing with roll-ups count every point exactly once',
    { timeout: 60_000 },
    async () => {
      await setWatermark(0);
      const a = await PgHistoryStore.open(db, { rollupEveryMs: 0, rollupLagMs: 0 });
      const b = await PgHistoryStore.open(db, { rollupEveryMs: 0, rollupLagMs: 0 });
      try {
        const work: Promise<unknown>[] = [];
        let n = 0;
        for (let i = 0; i < 40; i++) {
          // points spread over minutes 0..59, some below the moving watermark (late), some above
          const pts = Array.from({ length: 50 }, (_, j) =>
            pt(`t${j % 5}`, ((i * 7 + j * 13) % 60) * 60_000 + i * 100 + j, i + j),
          );
          n += pts.length;
          work.push((i % 2 ? a : b).append(pts));
          if (i % 4 === 0) work.push((i % 8 ? a : b).rollUp((i + 1) * 60_000 * 1.5));
        }
        await Promise.all(work);
        expect(await rollupMismatches()).toEqual([]);
        await a.rollUp(61 * 60_000);
        expect(await rollupMismatches()).toEqual([]);
        const total = await db.query<{ n: number }>('SELECT sum(count)::int AS n FROM history_rollups');
        expect(total.rows[0]!.n).toBe(n);
      } finally {
        await a.close();
        await b.close();
      }
    },
  );

  it('creates one partition per day ahead of the commit; retention drops whole days and cuts the straddling one', async () => {
    const t0 = 20_000 * DAY;
    await store.append([pt('a', t0 + 1, 1), pt('a', t0 + DAY + 5, 2), pt('a', t0 + 2 * DAY + 7, 3)]);
    await store.append([pt('a', t0 + 2 * DAY + 90_000, 4)]);
    expect(await partitions()).toEqual([
      'history_points_d20000',
      'history_points_d20001',
      'history_points_d20002',
      'history_points_default',
    ]);
    expect((await db.query('SELECT count(*)::int AS n FROM history_points_default')).rows[0]).toEqual({
      n: 0,
    });
    // The cutoff falls inside day 20002, in the middle of a minute.
    expect(await store.prune(t0 + 2 * DAY + 30)).toBe(3);
    expect(await partitions()).toEqual(['history_points_d20002', 'history_points_default']);
    const page = await store.queryRaw({
      workspace: 'w',
      twinId: 'a',
      path: 'v',
      from: 0,
      to: 1e15,
      limit: 10,
    });
    expect(page.points).toEqual([{ ts: t0 + 2 * DAY + 90_000, value: 4 }]);
    const [b] = await store.queryAggregate({
      workspace: 'w',
      twinId: 'a',
      path: 'v',
      from: t0,
      to: t0 + 3 * DAY,
      interval: 3 * DAY,
      fns: ['sum'],
    });
    expect(b).toEqual({ start: t0, count: 1, sum: 4 });
  });

  it('week partitions when configured', async () => {
    const weekly = await PgHistoryStore.open(db, { partition: 'week' });
    await weekly.append([pt('w', 7 * DAY * 3000 + 5, 1)]);
    await weekly.close();
    expect(await partitions()).toContain('history_points_w3000');
  });

  it('runs inCommit inside every group commit; its failure fails the commit and onCommit sees it', async () => {
    await db.query('CREATE TABLE staged (n int)');
    inCommit = async (c) => {
      await c.query('INSERT INTO staged VALUES (1)');
    };
    await Promise.all([store.append([pt('i', 1, 1)]), store.append([pt('i', 2, 2)])]);
    expect((await db.query('SELECT count(*)::int AS n FROM staged')).rows[0]).toEqual({ n: 1 });
    expect(commits.at(-1)).toMatchObject({ items: 2, waiters: 2, failed: false });
    inCommit = async (c) => {
      await c.query('INSERT INTO staged VALUES (2)');
      throw new Error('outbox says no');
    };
    await expect(store.append([pt('i', 3, 3)])).rejects.toMatchObject({ code: 'StorageError' });
    expect(commits.at(-1)).toMatchObject({ failed: true });
    expect((await db.query('SELECT count(*)::int AS n FROM staged')).rows[0]).toEqual({ n: 1 });
    expect(
      (await store.queryRaw({ workspace: 'w', twinId: 'i', path: 'v', from: 0, to: 10, limit: 10 })).points,
    ).toHaveLength(2);
  });

  it('deleteTwinIn deletes within the caller transaction: rolled back, nothing is deleted', async () => {
    await store.append([pt('d', 1, 1), pt('e', 1, 2)]);
    await expect(
      db.transaction(async (c) => {
        await deleteTwinIn(c, 'w', 'd');
        throw new Error('twin store failed');
      }),
    ).rejects.toThrow();
    expect(await store.listSeries('w', 'd')).toHaveLength(1);
    await db.transaction((c) => deleteTwinIn(c, 'w', 'd'));
    expect(await store.listSeries('w', 'd')).toEqual([]);
    expect(
      (await store.queryRaw({ workspace: 'w', twinId: 'd', path: 'v', from: 0, to: 10, limit: 10 })).points,
    ).toEqual([]);
    // the store's cached id of the deleted series is noticed by the next commit
    await store.append([pt('d', 2, 5)]);
    expect(
      (await store.queryRaw({ workspace: 'w', twinId: 'd', path: 'v', from: 0, to: 10, limit: 10 })).points,
    ).toEqual([{ ts: 2, value: 5 }]);
    expect(await store.listSeries('w', 'e')).toHaveLength(1);
  });

  it('two stores (two nodes) racing on the same once points store each once', async () => {
    const other = await PgHistoryStore.open(db);
    try {
      const pts = Array.from({ length: 200 }, (_, i) => pt('race', 1000 + i, i, true));
      await Promise.all([
        store.append(pts),
        other.append(pts),
        store.append(pts.slice(50)),
        other.append(pts.slice(100)),
      ]);
      const page = await store.queryRaw({
        workspace: 'w',
        twinId: 'race',
        path: 'v',
        from: 0,
        to: 1e6,
        limit: 1000,
      });
      expect(page.points).toHaveLength(200);
      const [b] = await store.queryAggregate({
        workspace: 'w',
        twinId: 'race',
        path: 'v',
        from: 0,
        to: 60_000 * 10,
        interval: 60_000 * 10,
        fns: ['sum'],
      });
      expect(b).toEqual({ start: 0, count: 200, sum: (199 * 200) / 2 });
    } finally {
      await other.close();
    }
  });

  it('rejects a forged cursor and a checkpoint key with NUL', async () => {
    const forged = Buffer.from(JSON.stringify(['1; DROP TABLE x', 1, 'a'])).toString('base64url');
    await expect(
      store.queryRaw({ workspace: 'w', twinId: 'x', path: 'v', from: 0, to: 10, limit: 1, cursor: forged }),
    ).rejects.toMatchObject({ code: 'InvalidContinuationToken' });
    await expect(
      store.append([pt('x', 1, 1)], { checkpoint: { key: 'a\u0000b', seq: 1 } }),
    ).rejects.toMatchObject({
      code: 'StorageError',
    });
    expect(await store.listSeries('w', 'x')).toEqual([]);
  });
});
