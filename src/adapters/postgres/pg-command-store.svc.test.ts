// The CommandStore contract on PostgreSQL (a schema of its own per test), and what only a shared
// database shows: two connections racing on the same commands.
import { describe, expect, it } from 'vitest';
import { describeCommandStoreContract } from '../../core/ports/command-store.contract.js';
import { PG_COMMAND_MIGRATIONS, PgCommandStore } from './pg-command-store.js';
import { PG_EVENT_OUTBOX_MIGRATIONS, PgEventOutbox } from './pg-event-outbox.js';
import { pgStoreFixture } from './pg-store-test-fixture.js';
import type { PgDatabase } from './pg-database.js';
import { pgTestDatabase } from './pg-test-fixture.js';

describeCommandStoreContract('postgres', async () => {
  const fx = await pgStoreFixture(
    [PG_EVENT_OUTBOX_MIGRATIONS, PG_COMMAND_MIGRATIONS],
    (db) => new PgCommandStore(db, {}, new PgEventOutbox(db)),
  );
  return {
    store: fx.store,
    get outbox() {
      return new PgEventOutbox(fx.db);
    },
    reopen: () => fx.reopen(),
    cleanup: () => fx.cleanup(),
  };
});

describe('PgCommandStore across nodes', () => {
  it('lets one of two stores on separate pools win each race, in batches that overlap', async () => {
    const a = await pgTestDatabase([PG_COMMAND_MIGRATIONS]);
    const b = await pgTestDatabase([], a.schema);
    try {
      const sa = new PgCommandStore(a);
      const sb = new PgCommandStore(b);
      const n = 200;
      await sa.add(
        Array.from({ length: n }, (_, i) => ({
          workspace: 'ws',
          requestId: `r${i}`,
          twinId: `t${i % 9}`,
          command: 'go',
          createdAt: 1,
          expiresAt: 1000,
        })),
      );
      await sa.transition(
        Array.from({ length: n }, (_, i) => ({
          workspace: 'ws',
          requestId: `r${i}`,
          from: ['queued'] as const,
          to: 'sent' as const,
          at: 2,
        })),
      );
      // Node A answers in ascending order, node B in descending order (rows locked in opposite
      // orders: deadlocks are retried), and B also sweeps expiries.
      const ids = Array.from({ length: n }, (_, i) => `r${i}`);
      const [fromA, fromB, swept] = await Promise.all([
        sa.transition(
          ids.map((id) => ({
            workspace: 'ws',
            requestId: id,
            from: ['sent'],
            to: 'succeeded',
            at: 5,
            status: 200,
          })),
        ),
        sb.transition(
          [...ids].reverse().map((id) => ({
            workspace: 'ws',
            requestId: id,
            from: ['sent'],
            to: 'failed',
            at: 6,
            reason: 'b',
          })),
        ),
        sb.expireDue(2000, n),
      ]);
      const byB = [...fromB].reverse();
      const sweptIds = new Set(swept.map((c) => c.requestId));
      for (let i = 0; i < n; i++) {
        const wins = [fromA[i] !== undefined, byB[i] !== undefined, sweptIds.has(`r${i}`)].filter(Boolean);
        expect(wins, `r${i}`).toHaveLength(1);
        const stored = (await sa.get('ws', `r${i}`))!;
        expect(stored.steps).toHaveLength(3);
      }
      expect(await sa.countOpen('ws')).toEqual({ queued: 0, sent: 0, acknowledged: 0 });
    } finally {
      await b.close();
      await a.drop();
    }
  });
});

describe('PgCommandStore batching', () => {
  const cmd = (i: number) => ({
    workspace: 'ws',
    requestId: `r${i}`,
    twinId: `t${i % 5}`,
    command: 'go',
    createdAt: 1000,
    expiresAt: 2000,
  });

  it('runs the calls of one tick as one batch; a refused call is undone and fails alone', async () => {
    const db = await pgTestDatabase([PG_COMMAND_MIGRATIONS]);
    try {
      const seen = { queries: 0, transactions: 0 };
      const counting: PgDatabase = {
        ...db,
        query: (sql, params) => {
          seen.queries++;
          return db.query(sql, params);
        },
        transaction: (fn) => {
          seen.transactions++;
          return db.transaction(fn);
        },
      };
      const store = new PgCommandStore(counting, { maxBatch: 1000 });
      await store.add([cmd(0)]);
      seen.transactions = 0;
      const adds = Array.from({ length: 300 }, (_, i) => store.add([cmd(i + 1), cmd(i + 1000)]));
      const dup = store.add([cmd(5000), cmd(0)]); // r0 is stored: Conflict; r5000 must not stay
      const settled = await Promise.allSettled([...adds, dup]);
      expect(seen.transactions).toBe(1);
      expect(settled.filter((x) => x.status === 'rejected')).toHaveLength(1);
      expect((settled[300] as PromiseRejectedResult).reason).toMatchObject({ code: 'Conflict' });
      expect(await store.get('ws', 'r5000')).toBeUndefined();
      const seqs = settled
        .slice(0, 300)
        .flatMap((x) => (x as PromiseFulfilledResult<{ seq: number }[]>).value);
      for (let i = 1; i < seqs.length; i++) expect(seqs[i]!.seq).toBeGreaterThan(seqs[i - 1]!.seq);

      seen.queries = 0;
      const moves = await Promise.all(
        Array.from({ length: 300 }, (_, i) =>
          store.transition([
            { workspace: 'ws', requestId: `r${i + 1}`, from: ['queued'], to: 'sent', at: 1500 },
            { workspace: 'ws', requestId: `nope-${i}`, from: ['queued'], to: 'sent', at: 1500 },
          ]),
        ),
      );
      expect(seen.queries).toBe(1);
      expect(moves.every((m) => m[0]?.state === 'sent' && m[1] === undefined)).toBe(true);
      // a call touching a command already in the batch goes in the next one, in call order
      seen.queries = 0;
      const [a, b] = await Promise.all([
        store.transition([
          { workspace: 'ws', requestId: 'r1', from: ['sent'], to: 'acknowledged', at: 1600 },
        ]),
        store.transition([
          { workspace: 'ws', requestId: 'r1', from: ['acknowledged'], to: 'succeeded', at: 1700 },
        ]),
      ]);
      expect([a[0]?.state, b[0]?.state]).toEqual(['acknowledged', 'succeeded']);
      expect(seen.queries).toBe(2);
      expect(await store.countOpen('ws')).toEqual({ queued: 301, sent: 299, acknowledged: 0 });
    } finally {
      await db.drop();
    }
  });

  it('flush() waits until every call made so far has its outcome (before the pool closes)', async () => {
    const db = await pgTestDatabase([PG_COMMAND_MIGRATIONS]);
    try {
      const store = new PgCommandStore(db, { maxBatch: 10 });
      let settled = 0;
      for (let i = 0; i < 50; i++) void store.add([cmd(i)]).then(() => settled++);
      await store.flush();
      await Promise.resolve();
      expect(settled).toBe(50);
      await store.flush(); // nothing queued: at once
      expect((await store.list({ workspace: 'ws', limit: 100 })).length).toBe(50);
    } finally {
      await db.drop();
    }
  });
});
