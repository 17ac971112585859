// Exactly-once history on SQLite against a naive model: random redeliveries of readings with a
// source time, across group commits, compaction passes (tiny chunks), a failed commit and reopen.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { HistoryPoint } from '../../core/ports/storage-ports.js';
import { tempStorage } from './sqlite-test-fixture.js';

const once = (twinId: string, ts: number, value: number): HistoryPoint => ({
  workspace: 'w',
  twinId,
  path: 'v',
  kind: 'telemetry',
  ts,
  value,
  once: true,
});

type Step = { kind: 'append'; points: [string, number, number][] } | { kind: 'compact' } | { kind: 'reopen' };

const step: fc.Arbitrary<Step> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('append' as const),
      points: fc.array(fc.tuple(fc.constantFrom('a', 'b'), fc.integer({ min: 0, max: 40 }), fc.integer()), {
        minLength: 1,
        maxLength: 12,
      }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'compact' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reopen' as const }) },
);

describe('SqliteHistoryStore exactly-once', () => {
  it('stores each (twin, ts) of once-points once, the first value winning (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 25 }), async (steps) => {
        const fx = tempStorage({ history: { chunkPoints: 4, compactMaxPoints: 6 } });
        try {
          let history = fx.storage.history;
          const model = new Map<string, number>();
          for (const s of steps) {
            if (s.kind === 'compact') history.compactNow();
            else if (s.kind === 'reopen') history = (await fx.reopen()).history;
            else {
              // Split into concurrent appends: one group commit holding the same reading twice.
              const half = Math.ceil(s.points.length / 2);
              const parts = [s.points.slice(0, half), s.points.slice(half)].filter((p) => p.length);
              await Promise.all(parts.map((p) => history.append(p.map(([t, ts, v]) => once(t, ts, v)))));
              for (const [t, ts, v] of s.points) if (!model.has(`${t}:${ts}`)) model.set(`${t}:${ts}`, v);
            }
          }
          for (const t of ['a', 'b']) {
            const got = await history.queryRaw({
              workspace: 'w',
              twinId: t,
              path: 'v',
              from: 0,
              to: 100,
              limit: 1000,
            });
            const want = [...model]
              .filter(([k]) => k.startsWith(`${t}:`))
              .map(([k, value]) => ({ ts: Number(k.slice(2)), value }))
              .sort((x, y) => x.ts - y.ts);
            expect(got.points).toEqual(want);
          }
        } finally {
          await fx.cleanup();
        }
      }),
      { numRuns: 40 },
    );
  });

  it('a failed commit stores nothing, and the same readings are stored when sent again', async () => {
    const fx = tempStorage();
    try {
      const { history, db } = fx.storage;
      await history.append([once('a', 1, 1)]);
      db.exec("CREATE TRIGGER fail_log BEFORE INSERT ON history_log BEGIN SELECT RAISE(ABORT, 'no'); END;");
      await expect(history.append([once('a', 2, 2), once('a', 1, 9)])).rejects.toMatchObject({
        code: 'StorageError',
      });
      db.exec('DROP TRIGGER fail_log');
      await history.append([once('a', 2, 2), once('a', 1, 9)]);
      expect(
        (await history.queryRaw({ workspace: 'w', twinId: 'a', path: 'v', from: 0, to: 10, limit: 10 }))
          .points,
      ).toEqual([
        { ts: 1, value: 1 },
        { ts: 2, value: 2 },
      ]);
      expect(history.duplicatesSkipped).toBe(1);
    } finally {
      await fx.cleanup();
    }
  });
});
