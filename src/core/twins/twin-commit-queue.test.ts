import { describe, expect, it } from 'vitest';
import { TwinloopError } from '../errors/errors.js';
import type { RelationshipRecord, TwinRecord } from '../graph/graph-types.js';
import type { TwinStore, TwinWrite } from '../ports/storage-ports.js';
import { TwinCommitQueue } from './twin-commit-queue.js';

/** A store that records each commit and fails writes whose twin id starts with "bad". */
function fakeStore(delayMs = 0) {
  const commits: string[][] = [];
  const store: TwinStore = {
    async *loadTwins(): AsyncIterable<TwinRecord> {},
    async *loadRelationships(): AsyncIterable<RelationshipRecord> {},
    async commit(writes: readonly TwinWrite[]) {
      await new Promise((r) => setTimeout(r, delayMs));
      const ids = writes.flatMap((w) => w.ops.map((o) => (o.op === 'putTwin' ? o.twin.id : '?')));
      if (ids.some((id) => id.startsWith('bad')))
        throw new TwinloopError('PreconditionFailed', 'a write expected another etag');
      if (ids.some((id) => id.startsWith('down'))) throw new TwinloopError('StorageError', 'disk gone');
      commits.push(ids);
    },
  };
  return { store, commits };
}

const write = (id: string): TwinWrite => ({
  ops: [
    {
      op: 'putTwin',
      twin: {
        id,
        modelId: 'm',
        workspace: 'w',
        etag: 'e',
        lastUpdateTime: 0,
        contents: {},
        propertyTimes: {},
        telemetry: {},
      },
    },
  ],
});

describe('TwinCommitQueue', () => {
  it('commits writes started in one tick together, and those queued during a commit in the next', async () => {
    const { store, commits } = fakeStore(20);
    const q = new TwinCommitQueue({ store });
    const first = ['a', 'b', 'c'].map((id) => q.commit(write(id)));
    await new Promise((r) => setTimeout(r, 5)); // the first commit is in flight now
    const second = ['d', 'e'].map((id) => q.commit(write(id)));
    await Promise.all([...first, ...second]);
    expect(commits).toEqual([
      ['a', 'b', 'c'],
      ['d', 'e'],
    ]);
  });

  it('caps a group at maxBatch', async () => {
    const { store, commits } = fakeStore();
    const q = new TwinCommitQueue({ store, maxBatch: 2 });
    await Promise.all(['a', 'b', 'c', 'd', 'e'].map((id) => q.commit(write(id))));
    expect(commits).toEqual([['a', 'b'], ['c', 'd'], ['e']]);
  });

  it('re-commits a group one by one when one write fails its precondition: only that one fails', async () => {
    const { store, commits } = fakeStore();
    const q = new TwinCommitQueue({ store });
    const results = await Promise.allSettled(['a', 'bad', 'c'].map((id) => q.commit(write(id))));
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(commits).toEqual([['a'], ['c']]);
  });

  it('fails the whole group when the store fails (no retry one by one)', async () => {
    const { store, commits } = fakeStore();
    const q = new TwinCommitQueue({ store });
    const results = await Promise.allSettled(['a', 'down', 'c'].map((id) => q.commit(write(id))));
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected', 'rejected']);
    expect(commits).toEqual([]);
    await q.commit(write('later')); // the queue goes on
    expect(commits).toEqual([['later']]);
  });

  it('runs holders of the same key one after another, others at once, without deadlock', async () => {
    const q = new TwinCommitQueue({ store: fakeStore().store });
    const log: string[] = [];
    const hold = (name: string, keys: string[], ms: number) =>
      q.exclusive(keys, async () => {
        log.push(`${name}+`);
        await new Promise((r) => setTimeout(r, ms));
        log.push(`${name}-`);
      });
    let syncStarted = false;
    const p = [
      hold('A', ['x'], 20),
      hold('B', ['y', 'x'], 5),
      hold('C', ['z'], 1),
      q.exclusive(['w'], async () => {
        syncStarted = true;
        await Promise.resolve();
      }),
    ];
    expect(syncStarted).toBe(true); // free keys: starts synchronously
    await Promise.all(p);
    expect(log.indexOf('A-')).toBeLessThan(log.indexOf('B+'));
    expect(log.indexOf('C+')).toBeLessThan(log.indexOf('A-'));
    // a failing holder releases its keys
    await expect(q.exclusive(['x'], () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await q.exclusive(['x'], async () => undefined);
  });

  it('lets shared holders run together and makes an exclusive holder wait for them all', async () => {
    const q = new TwinCommitQueue({ store: fakeStore().store });
    const log: string[] = [];
    const hold = (name: string, keys: { key: string; shared?: boolean }[], ms: number) =>
      q.hold(keys, async () => {
        log.push(`${name}+`);
        await new Promise((r) => setTimeout(r, ms));
        log.push(`${name}-`);
      });
    await Promise.all([
      hold('R1', [{ key: 'a', shared: true }, { key: 'r1' }], 20),
      hold('R2', [{ key: 'a', shared: true }, { key: 'r2' }], 10),
      hold('W', [{ key: 'a' }], 1),
      hold('R3', [{ key: 'a', shared: true }], 1),
    ]);
    expect(log.slice(0, 2)).toEqual(['R1+', 'R2+']); // both shared holds at once
    expect(log.indexOf('W+')).toBeGreaterThan(log.indexOf('R1-'));
    expect(log.indexOf('R3+')).toBeGreaterThan(log.indexOf('W-')); // behind the exclusive one
  });
});
