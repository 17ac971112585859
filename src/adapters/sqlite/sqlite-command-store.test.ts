import { describe, expect, it } from 'vitest';
import { describeCommandStoreContract } from '../../core/ports/command-store.contract.js';
import type { CommitInfo } from './sqlite-group-commit.js';
import { tempStorage } from './sqlite-test-fixture.js';

describeCommandStoreContract('sqlite', async () => {
  const fx = tempStorage();
  await Promise.resolve();
  return {
    store: fx.storage.commands,
    get outbox() {
      return fx.storage.outbox;
    },
    reopen: async () => (await fx.reopen()).commands,
    cleanup: () => fx.cleanup(),
  };
});

describe('SqliteCommandStore group commit', () => {
  const cmd = (i: number) => ({
    workspace: 'ws',
    requestId: `r${i}`,
    twinId: `t${i % 5}`,
    command: 'go',
    createdAt: 1000,
    expiresAt: 2000,
  });

  it('commits the add and transition calls of one tick in one transaction; a failing call fails alone', async () => {
    const commits: CommitInfo[] = [];
    const fx = tempStorage({ commands: { onCommit: (i) => commits.push(i) } });
    try {
      const store = fx.storage.commands;
      await store.add([cmd(0)]);
      commits.length = 0;
      const adds = Array.from({ length: 300 }, (_, i) => store.add([cmd(i + 1)]));
      const dup = store.add([cmd(0)]); // already stored: Conflict, in the same commit
      const moves = Array.from({ length: 300 }, (_, i) =>
        store.transition([
          { workspace: 'ws', requestId: `r${i + 1}`, from: ['queued'], to: 'sent', at: 1500 },
        ]),
      );
      const settled = await Promise.allSettled([...adds, dup, ...moves]);
      expect(commits).toHaveLength(1);
      expect(commits[0]).toMatchObject({ waiters: 601, items: 601, failed: false });
      expect(settled.filter((s) => s.status === 'rejected')).toHaveLength(1);
      expect((settled[300] as PromiseRejectedResult).reason).toMatchObject({ code: 'Conflict' });
      expect(await store.countOpen('ws')).toEqual({ queued: 1, sent: 300, acknowledged: 0 });
    } finally {
      await fx.cleanup();
    }
  });

  it('commits what is queued when the storage closes', async () => {
    const fx = tempStorage();
    try {
      const pending = fx.storage.commands.add([cmd(1), cmd(2)]);
      const store = await fx.reopen();
      await pending;
      expect((await store.commands.list({ workspace: 'ws', limit: 10 })).map((c) => c.requestId)).toEqual([
        'r2',
        'r1',
      ]);
    } finally {
      await fx.cleanup();
    }
  });
});
