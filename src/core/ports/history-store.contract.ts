/**
 * The contract every HistoryStore adapter passes (SQLite now, PostgreSQL next): call
 * describeHistoryStoreContract from the adapter's test file with a factory for a fresh, empty store.
 * Results are checked against a naive model computed in the test.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AggregateFn, HistoryPoint, HistoryStore, HistoryValue } from './storage-ports.js';

export interface HistoryStoreFixture {
  store: HistoryStore;
  /** Closes the current store and opens a new one on the same data. */
  reopen(): Promise<HistoryStore>;
  /** Closes the store and removes its data. */
  cleanup(): Promise<void>;
  /** Makes every commit fail until the returned function is called (a trigger that raises). */
  failCommits(): Promise<() => Promise<void>>;
}

const WS = 'ws1';

function pt(twinId: string, path: string, ts: number, value: HistoryValue): HistoryPoint {
  return { workspace: WS, twinId, path, kind: 'telemetry', ts, value };
}

/** Naive buckets computed from the points, the model the store must match. */
function naiveBuckets(points: readonly HistoryPoint[], from: number, to: number, interval: number) {
  const n = Math.ceil((to - from) / interval);
  const out = Array.from({ length: n }, (_, b) => ({
    start: from + b * interval,
    count: 0,
    nums: [] as number[],
    firstTs: Infinity,
    lastTs: -Infinity,
    first: null as HistoryValue,
    last: null as HistoryValue,
  }));
  for (const p of points) {
    if (p.ts < from || p.ts >= to) continue;
    const b = out[Math.floor((p.ts - from) / interval)]!;
    b.count++;
    if (typeof p.value === 'number') b.nums.push(p.value);
    if (p.ts < b.firstTs) {
      b.firstTs = p.ts;
      b.first = p.value;
    }
    if (p.ts >= b.lastTs) {
      b.lastTs = p.ts;
      b.last = p.value;
    }
  }
  return out;
}

/** A value nested `depth` levels deep: {a: {a: ... 1}}. */
function nest(depth: number): unknown {
  let v: unknown = 1;
  for (let i = 0; i < depth; i++) v = { a: v, l: [i] };
  return v;
}

export function describeHistoryStoreContract(name: string, make: () => Promise<HistoryStoreFixture>): void {
  describe(`HistoryStore contract: ${name}`, () => {
    let fx: HistoryStoreFixture;
    let store: HistoryStore;
    beforeEach(async () => {
      fx = await make();
      store = fx.store;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    it('returns appended points in time order, asc and desc, within [from, to)', async () => {
      await store.append([
        pt('t1', 'temp', 30, 3),
        pt('t1', 'temp', 10, 1),
        pt('t1', 'temp', 20, 2),
        pt('t1', 'temp', 40, 4),
      ]);
      const asc = await store.queryRaw({
        workspace: WS,
        twinId: 't1',
        path: 'temp',
        from: 10,
        to: 40,
        limit: 100,
      });
      expect(asc.points).toEqual([
        { ts: 10, value: 1 },
        { ts: 20, value: 2 },
        { ts: 30, value: 3 },
      ]);
      expect(asc.cursor).toBeUndefined();
      const desc = await store.queryRaw({
        workspace: WS,
        twinId: 't1',
        path: 'temp',
        from: 0,
        to: 100,
        limit: 100,
        order: 'desc',
      });
      expect(desc.points.map((p) => p.ts)).toEqual([40, 30, 20, 10]);
      // other series and workspaces are separate
      expect(
        (
          await store.queryRaw({
            workspace: 'other',
            twinId: 't1',
            path: 'temp',
            from: 0,
            to: 100,
            limit: 10,
          })
        ).points,
      ).toEqual([]);
      expect(
        (await store.queryRaw({ workspace: WS, twinId: 't1', path: 'hum', from: 0, to: 100, limit: 10 }))
          .points,
      ).toEqual([]);
    });

    it('aggregates over buckets with edges, empty buckets and points outside the window', async () => {
      // from = 1000, interval = 100: points at 999 and 1400 are outside, 1100 starts bucket 1.
      const pts = [
        pt('t1', 'v', 999, 1000),
        pt('t1', 'v', 1000, 1),
        pt('t1', 'v', 1099, 3),
        pt('t1', 'v', 1100, 10),
        pt('t1', 'v', 1399, -5),
        pt('t1', 'v', 1400, 1000),
      ];
      await store.append(pts);
      const fns: AggregateFn[] = ['avg', 'min', 'max', 'sum', 'count', 'first', 'last'];
      const b = await store.queryAggregate({
        workspace: WS,
        twinId: 't1',
        path: 'v',
        from: 1000,
        to: 1400,
        interval: 100,
        fns,
      });
      expect(b.map((x) => x.start)).toEqual([1000, 1100, 1200, 1300]);
      expect(b[0]).toMatchObject({ count: 2, avg: 2, min: 1, max: 3, sum: 4, first: 1, last: 3 });
      expect(b[1]).toMatchObject({ count: 1, avg: 10, min: 10, max: 10, sum: 10, first: 10, last: 10 });
      expect(b[2]).toMatchObject({ count: 0, avg: null, min: null, max: null });
      expect(b[3]).toMatchObject({ count: 1, avg: -5, first: -5, last: -5 });
      // a last bucket cut short by `to`
      const c = await store.queryAggregate({
        workspace: WS,
        twinId: 't1',
        path: 'v',
        from: 1000,
        to: 1150,
        interval: 100,
        fns: ['count'],
      });
      expect(c.map((x) => [x.start, x.count])).toEqual([
        [1000, 2],
        [1100, 1],
      ]);
      // a series with no points: every bucket empty
      const e = await store.queryAggregate({
        workspace: WS,
        twinId: 'nobody',
        path: 'v',
        from: 0,
        to: 300,
        interval: 100,
        fns: ['avg'],
      });
      expect(e).toEqual([
        { start: 0, count: 0, avg: null },
        { start: 100, count: 0, avg: null },
        { start: 200, count: 0, avg: null },
      ]);
    });

    it('matches a naive model on random data, also after reopening (property)', async () => {
      let run = 0;
      const arb = fc.record({
        points: fc.array(
          fc.record({
            ts: fc.integer({ min: 0, max: 2000 }),
            v: fc.oneof(fc.integer({ min: -1000, max: 1000 }), fc.constant('s')),
          }),
          { maxLength: 200 },
        ),
        from: fc.integer({ min: 0, max: 1000 }),
        span: fc.integer({ min: 1, max: 1500 }),
        interval: fc.integer({ min: 1, max: 400 }),
        reopenAt: fc.nat(),
      });
      await fc.assert(
        fc.asyncProperty(arb, async ({ points, from, span, interval, reopenAt }) => {
          const twin = `p${run++}`;
          const pts = points.map((p) => pt(twin, 'x', p.ts, p.v));
          const cut = pts.length ? reopenAt % (pts.length + 1) : 0;
          await store.append(pts.slice(0, cut));
          if (run % 5 === 0) store = await fx.reopen();
          await store.append(pts.slice(cut));
          const to = from + span;
          const got = await store.queryAggregate({
            workspace: WS,
            twinId: twin,
            path: 'x',
            from,
            to,
            interval,
            fns: ['avg', 'min', 'max', 'sum', 'first', 'last'],
          });
          const want = naiveBuckets(pts, from, to, interval);
          expect(got.length).toBe(want.length);
          for (let i = 0; i < want.length; i++) {
            const w = want[i]!;
            const g = got[i]!;
            expect(g.start).toBe(w.start);
            expect(g.count).toBe(w.count);
            const s = w.nums.reduce((a, x) => a + x, 0);
            expect(g.sum).toBe(w.nums.length ? s : null);
            expect(g.min).toBe(w.nums.length ? Math.min(...w.nums) : null);
            expect(g.max).toBe(w.nums.length ? Math.max(...w.nums) : null);
            if (w.nums.length) expect(g.avg).toBeCloseTo(s / w.nums.length, 9);
            else expect(g.avg).toBeNull();
            // first/last: the value at the earliest/latest ts (ties may pick any point at that ts)
            if (w.count) {
              const atFirst = pts.filter((p) => p.ts === w.firstTs).map((p) => p.value);
              const atLast = pts.filter((p) => p.ts === w.lastTs).map((p) => p.value);
              expect(atFirst).toContainEqual(g.first);
              expect(atLast).toContainEqual(g.last);
            }
          }
        }),
        { numRuns: 40 },
      );
    });

    it('pages raw points without gaps or duplicates (asc and desc, duplicate timestamps, across reopen)', async () => {
      const pts: HistoryPoint[] = [];
      for (let i = 0; i < 500; i++) pts.push(pt('t1', 'p', Math.floor(i / 3) * 10, i));
      await store.append(pts.slice(0, 250));
      store = await fx.reopen();
      await store.append(pts.slice(250));
      for (const order of ['asc', 'desc'] as const) {
        for (const limit of [1, 7, 100, 1000]) {
          const seen: number[] = [];
          let cursor: string | undefined;
          let pages = 0;
          do {
            const page = await store.queryRaw({
              workspace: WS,
              twinId: 't1',
              path: 'p',
              from: 0,
              to: 1e9,
              limit,
              order,
              ...(cursor ? { cursor } : {}),
            });
            for (const p of page.points) seen.push(p.value as number);
            cursor = page.cursor;
            pages++;
            expect(pages).toBeLessThan(1000);
          } while (cursor);
          expect(seen.length).toBe(500);
          expect(new Set(seen).size).toBe(500);
          const ts = seen.map((v) => Math.floor(v / 3) * 10);
          const sorted = [...ts].sort((a, b) => (order === 'asc' ? a - b : b - a));
          expect(ts).toEqual(sorted);
        }
      }
      await expect(
        store.queryRaw({
          workspace: WS,
          twinId: 't1',
          path: 'p',
          from: 0,
          to: 1e9,
          limit: 5,
          cursor: 'not-a-cursor',
        }),
      ).rejects.toMatchObject({ code: 'InvalidContinuationToken' });
    });

    it('keeps non-numeric values as JSON: count/first/last over all, numeric functions skip them', async () => {
      const obj = { a: 1, b: [true, 'x'] };
      await store.append([
        pt('t2', 'state', 1, 'on'),
        pt('t2', 'state', 2, true),
        pt('t2', 'state', 3, obj),
        pt('t2', 'state', 4, null),
        pt('t2', 'state', 5, 7.5),
        pt('t2', 'state', 6, [1, 2]),
      ]);
      const raw = await store.queryRaw({
        workspace: WS,
        twinId: 't2',
        path: 'state',
        from: 0,
        to: 10,
        limit: 10,
      });
      expect(raw.points.map((p) => p.value)).toEqual(['on', true, obj, null, 7.5, [1, 2]]);
      const [b] = await store.queryAggregate({
        workspace: WS,
        twinId: 't2',
        path: 'state',
        from: 0,
        to: 10,
        interval: 10,
        fns: ['count', 'avg', 'first', 'last', 'min'],
      });
      expect(b).toEqual({ start: 0, count: 6, avg: 7.5, min: 7.5, first: 'on', last: [1, 2] });
    });

    it('resolves concurrent appends together and they are all visible', async () => {
      const all = Array.from({ length: 50 }, (_, i) =>
        store.append([pt('t3', 'c', i, i), pt('t4', 'c', i, -i)]),
      );
      await Promise.all(all);
      const page = await store.queryRaw({
        workspace: WS,
        twinId: 't3',
        path: 'c',
        from: 0,
        to: 100,
        limit: 100,
      });
      expect(page.points.map((p) => p.value)).toEqual(Array.from({ length: 50 }, (_, i) => i));
      const [agg] = await store.queryAggregate({
        workspace: WS,
        twinId: 't4',
        path: 'c',
        from: 0,
        to: 100,
        interval: 100,
        fns: ['sum'],
      });
      expect(agg).toEqual({ start: 0, count: 50, sum: -1225 });
    });

    it('rejects points without a finite timestamp, and only that append', async () => {
      const bad = store.append([pt('t5', 'x', Number.NaN, 1)]);
      const good = store.append([pt('t5', 'x', 5, 1)]);
      await expect(bad).rejects.toMatchObject({ code: expect.any(String) as string });
      await good;
      expect(
        (await store.queryRaw({ workspace: WS, twinId: 't5', path: 'x', from: 0, to: 10, limit: 10 })).points,
      ).toEqual([{ ts: 5, value: 1 }]);
    });

    it('keeps data and latest values across reopen; lists series', async () => {
      await store.append([
        pt('t1', 'a', 5, 1),
        pt('t1', 'a', 7, 2),
        pt('t1', 'a', 6, 9),
        pt('t1', 'b', 1, 'x'),
      ]);
      await store.append([
        { workspace: WS, twinId: 't2', path: 'comp/p', kind: 'property', ts: 3, value: { z: 1 } },
      ]);
      store = await fx.reopen();
      expect(
        (await store.queryRaw({ workspace: WS, twinId: 't1', path: 'a', from: 0, to: 10, limit: 10 })).points,
      ).toEqual([
        { ts: 5, value: 1 },
        { ts: 6, value: 9 },
        { ts: 7, value: 2 },
      ]);
      const series = await store.listSeries(WS);
      expect(series).toEqual(
        expect.arrayContaining([
          { workspace: WS, twinId: 't1', path: 'a', kind: 'telemetry', lastTs: 7, lastValue: 2 },
          { workspace: WS, twinId: 't1', path: 'b', kind: 'telemetry', lastTs: 1, lastValue: 'x' },
          { workspace: WS, twinId: 't2', path: 'comp/p', kind: 'property', lastTs: 3, lastValue: { z: 1 } },
        ]),
      );
      expect(series).toHaveLength(3);
      expect((await store.listSeries(WS, 't2')).map((s) => s.path)).toEqual(['comp/p']);
      // the latest value moves with a newer point, not with an older one
      await store.append([pt('t1', 'a', 8, 3), pt('t1', 'a', 1, 100)]);
      expect((await store.listSeries(WS, 't1')).find((s) => s.path === 'a')).toMatchObject({
        lastTs: 8,
        lastValue: 3,
      });
    });

    it('prunes points older than a time and counts them', async () => {
      const pts = Array.from({ length: 100 }, (_, i) => pt('t1', 'r', i, i));
      await store.append(pts.slice(0, 60));
      store = await fx.reopen();
      await store.append(pts.slice(60));
      const removed = await store.prune(42);
      expect(removed).toBe(42);
      const page = await store.queryRaw({
        workspace: WS,
        twinId: 't1',
        path: 'r',
        from: 0,
        to: 1000,
        limit: 1000,
      });
      expect(page.points.map((p) => p.ts)).toEqual(Array.from({ length: 58 }, (_, i) => i + 42));
      store = await fx.reopen();
      expect(
        (await store.queryRaw({ workspace: WS, twinId: 't1', path: 'r', from: 0, to: 1000, limit: 1000 }))
          .points,
      ).toHaveLength(58);
      expect(await store.prune(42)).toBe(0);
    });

    it('deletes every series of a twin, and only that twin', async () => {
      await store.append([pt('t1', 'a', 1, 1), pt('t1', 'b', 1, 2), pt('t2', 'a', 1, 3)]);
      await store.deleteTwin(WS, 't1');
      expect(await store.listSeries(WS, 't1')).toEqual([]);
      expect(
        (await store.queryRaw({ workspace: WS, twinId: 't1', path: 'a', from: 0, to: 10, limit: 10 })).points,
      ).toEqual([]);
      expect(await store.listSeries(WS, 't2')).toHaveLength(1);
      store = await fx.reopen();
      expect(
        (await store.queryRaw({ workspace: WS, twinId: 't1', path: 'a', from: 0, to: 10, limit: 10 })).points,
      ).toEqual([]);
      // a twin re-created with the same id starts a new history, in which an old source time is new
      await store.append([pt('t1', 'a', 5, 50), { ...pt('t1', 'b', 1, 20), once: true }]);
      expect(
        (await store.queryRaw({ workspace: WS, twinId: 't1', path: 'a', from: 0, to: 10, limit: 10 })).points,
      ).toEqual([{ ts: 5, value: 50 }]);
      expect(
        (await store.queryRaw({ workspace: WS, twinId: 't1', path: 'b', from: 0, to: 10, limit: 10 })).points,
      ).toEqual([{ ts: 1, value: 20 }]);
    });

    it('stores a point with a source time once per series and ts: redelivered, resent, in one batch, after reopen', async () => {
      const once = (twinId: string, path: string, ts: number, value: HistoryValue): HistoryPoint => ({
        ...pt(twinId, path, ts, value),
        once: true,
      });
      const read = async (twinId: string, path: string) =>
        (await store.queryRaw({ workspace: WS, twinId, path, from: 0, to: 1e6, limit: 1000 })).points;
      await store.append([once('d1', 'temp', 10, 1), once('d1', 'temp', 20, 2), once('d1', 'flow', 10, 5)]);
      // The same message again (a redelivery), the same ts within one append, and concurrent resends.
      await store.append([once('d1', 'temp', 10, 1), once('d1', 'temp', 20, 2)]);
      await store.append([once('d1', 'temp', 30, 3), once('d1', 'temp', 30, 3)]);
      await Promise.all([
        store.append([once('d1', 'temp', 40, 4)]),
        store.append([once('d1', 'temp', 40, 4)]),
      ]);
      // A late point between stored ones is new; the first stored value wins over a different one at the same ts.
      await store.append([once('d1', 'temp', 15, 1.5), once('d1', 'temp', 20, 99)]);
      expect(await read('d1', 'temp')).toEqual([
        { ts: 10, value: 1 },
        { ts: 15, value: 1.5 },
        { ts: 20, value: 2 },
        { ts: 30, value: 3 },
        { ts: 40, value: 4 },
      ]);
      // Another series (twin or name) with the same ts is its own reading; non-numeric values too.
      await store.append([
        once('d2', 'temp', 10, 7),
        once('d1', 'state', 10, 'on'),
        once('d1', 'state', 10, 'on'),
      ]);
      expect(await read('d2', 'temp')).toEqual([{ ts: 10, value: 7 }]);
      expect(await read('d1', 'state')).toEqual([{ ts: 10, value: 'on' }]);
      store = await fx.reopen();
      // After a restart (the crash case: the originals are in chunks or the replayed log) nothing doubles.
      await store.append(Array.from({ length: 50 }, (_, i) => once('d1', 'temp', 10 * (i % 5) + 10, 0)));
      await store.append([once('d1', 'flow', 10, 6), once('d1', 'state', 10, 'off')]);
      expect((await read('d1', 'temp')).map((p) => p.ts)).toEqual([10, 15, 20, 30, 40, 50]);
      expect(await read('d1', 'flow')).toEqual([{ ts: 10, value: 5 }]);
      expect(await read('d1', 'state')).toEqual([{ ts: 10, value: 'on' }]);
      expect((await store.listSeries(WS, 'd1')).find((s) => s.path === 'temp')?.lastValue).toBe(0);
    });

    it('stores every point without a source time, even at a ts already held', async () => {
      await store.append([pt('r1', 'temp', 10, 1), pt('r1', 'temp', 10, 1)]);
      await store.append([pt('r1', 'temp', 10, 1), { ...pt('r1', 'temp', 10, 2), once: true }]);
      expect(
        (await store.queryRaw({ workspace: WS, twinId: 'r1', path: 'temp', from: 0, to: 100, limit: 10 }))
          .points,
      ).toHaveLength(3);
    });

    it('stores a checkpoint with the points of its append, and reads the latest back', async () => {
      expect(await store.readCheckpoint('ingest/a/0')).toBeUndefined();
      await store.append([pt('k1', 'v', 1, 1)], { checkpoint: { key: 'ingest/a/0', seq: 17 } });
      expect(await store.readCheckpoint('ingest/a/0')).toBe(17);
      // Concurrent appends in one group commit: each key keeps the value of the latest append.
      await Promise.all([
        store.append([pt('k1', 'v', 2, 2)], { checkpoint: { key: 'ingest/a/0', seq: 18 } }),
        store.append([pt('k1', 'v', 3, 3)], { checkpoint: { key: 'ingest/a/1', seq: 5 } }),
        store.append([pt('k1', 'v', 4, 4)], { checkpoint: { key: 'ingest/a/0', seq: 19 } }),
      ]);
      // A checkpoint with no points (every reading of the message was invalid or a duplicate) is kept too.
      await store.append([], { checkpoint: { key: 'ingest/a/1', seq: 6 } });
      store = await fx.reopen();
      expect(await store.readCheckpoint('ingest/a/0')).toBe(19);
      expect(await store.readCheckpoint('ingest/a/1')).toBe(6);
      expect(await store.readCheckpoint("'; DROP TABLE x; --")).toBeUndefined();
      await store.append([pt('k1', 'v', 5, 5)], { checkpoint: { key: "'; DROP TABLE x; --", seq: 1 } });
      expect(await store.readCheckpoint("'; DROP TABLE x; --")).toBe(1);
      expect(
        (await store.queryRaw({ workspace: WS, twinId: 'k1', path: 'v', from: 0, to: 10, limit: 10 })).points,
      ).toHaveLength(5);
    });

    it('stores neither the points nor the checkpoint of a failed commit', async () => {
      await store.append([pt('k2', 'v', 1, 1)], { checkpoint: { key: 'cp', seq: 1 } });
      const restore = await fx.failCommits();
      const a = store.append([pt('k2', 'v', 2, 2)], { checkpoint: { key: 'cp', seq: 2 } });
      const b = store.append([pt('k3', 'v', 2, 2)]);
      await expect(a).rejects.toMatchObject({ code: 'StorageError' });
      await expect(b).rejects.toMatchObject({ code: 'StorageError' });
      await restore();
      expect(await store.readCheckpoint('cp')).toBe(1);
      expect(
        (await store.queryRaw({ workspace: WS, twinId: 'k2', path: 'v', from: 0, to: 10, limit: 10 })).points,
      ).toEqual([{ ts: 1, value: 1 }]);
      expect(
        (await store.queryRaw({ workspace: WS, twinId: 'k3', path: 'v', from: 0, to: 10, limit: 10 })).points,
      ).toEqual([]);
      // and the store keeps working
      await store.append([pt('k2', 'v', 3, 3)], { checkpoint: { key: 'cp', seq: 3 } });
      expect(await store.readCheckpoint('cp')).toBe(3);
    });

    it('keeps hostile ids and values intact: SQL metacharacters, unicode, __proto__ keys, NUL in values, huge values', async () => {
      const twin = "'; DROP TABLE series; --";
      const path = 'comp/"name"\\%_*?;\u{1F600}\u202e';
      const proto = JSON.parse(
        '{"__proto__": {"polluted": true}, "constructor": {"prototype": 1}}',
      ) as Record<string, unknown>;
      const nul = 'a\u0000b';
      const huge = { big: 'x'.repeat(1_000_000), deep: nest(200) };
      await store.append([
        pt(twin, path, 1, 1),
        pt(twin, path, 2, proto),
        pt(twin, path, 3, nul),
        pt(twin, path, 4, { [nul]: nul }),
        pt(twin, path, 5, huge),
        pt(twin, path, 6, Number.MAX_VALUE),
        pt(twin, path, 7, -1e-300),
      ]);
      store = await fx.reopen();
      const got = (await store.queryRaw({ workspace: WS, twinId: twin, path, from: 0, to: 10, limit: 10 }))
        .points;
      expect(got.map((p) => p.ts)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(got[1]!.value).toEqual(proto);
      expect(Object.getPrototypeOf(got[1]!.value)).toBe(Object.prototype);
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(Object.keys(got[1]!.value as object)).toContain('__proto__');
      expect(got[2]!.value).toBe(nul);
      expect(got[3]!.value).toEqual({ [nul]: nul });
      expect(got[4]!.value).toEqual(huge);
      expect(got[5]!.value).toBe(Number.MAX_VALUE);
      expect(got[6]!.value).toBe(-1e-300);
      expect(await store.listSeries(WS, twin)).toEqual([
        { workspace: WS, twinId: twin, path, kind: 'telemetry', lastTs: 7, lastValue: -1e-300 },
      ]);
      // Other twins are untouched by the metacharacters.
      await store.append([pt('plain', 'v', 1, 1)]);
      expect(await store.listSeries(WS)).toHaveLength(2);
    });

    it('rejects a NUL character or a lone surrogate in a series key (workspace, twin id, path): nothing of that append is stored', async () => {
      for (const bad of [
        pt('t\u0000x', 'v', 1, 1),
        pt('t', 'v\u0000', 1, 1),
        { ...pt('t', 'v', 1, 1), workspace: '\u0000' },
        pt('t\ud800', 'v', 1, 1),
      ]) {
        await expect(store.append([pt('nul-ok', 'v', 1, 1), bad])).rejects.toMatchObject({
          code: 'InvalidTelemetry',
        });
      }
      expect(await store.listSeries(WS, 'nul-ok')).toEqual([]);
    });

    it('rejects appends after close', async () => {
      await store.close();
      await expect(store.append([pt('t1', 'a', 1, 1)])).rejects.toBeInstanceOf(Error);
    });
  });
}
