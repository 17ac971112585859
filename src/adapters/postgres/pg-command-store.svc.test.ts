// The CommandStore contract on PostgreSQL (a schema of its own per test), and what only a shared
// database shows: two connections racing on the same commands.
import { describe, expect, it } from 'vitest';
import { describeCommandStoreContract } from '../../core/ports/command-store.contract.js';
import { PG_COMMAND_MIGRATIONS, PgCommandStore } from './pg-command-store.js';
import { pgStoreFixture } from './pg-store-test-fixture.js';
import { pgTestDatabase } from './pg-test-fixture.js';

describeCommandStoreContract('postgres', async () => {
  const fx = await pgStoreFixture([PG_COMMAND_MIGRATIONS], (db) => new PgCommandStore(db));
  return { store: fx.store, reopen: () => fx.reopen(), cleanup: () => fx.cleanup() };
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
          [...ids]
            .reverse()
            .map((id) => ({
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
