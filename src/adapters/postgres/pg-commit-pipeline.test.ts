import { describe, expect, it } from 'vitest';
import { TwinloopError } from '../../core/errors/errors.js';
import {
  CommitPipeline,
  type CommitPipelineOptions,
  type OutageEvent,
  type PipelineItem,
} from './pg-commit-pipeline.js';

/**
 * The pipeline's ordering, exclusivity and outage rules, with a commit function under the test's
 * control (each call waits until the test releases it). PostgreSQL itself: pg-history-*.svc.test.ts.
 */
interface Item extends PipelineItem {
  name: string;
}

interface Call {
  names: string[];
  finish(error?: unknown): void;
}

function harness(over: Partial<CommitPipelineOptions<Item>> = {}) {
  const calls: Call[] = [];
  const settled: string[] = [];
  const outages: OutageEvent[] = [];
  const p = new CommitPipeline<Item>({
    commit: (batch) =>
      new Promise<void>((resolve, reject) => {
        calls.push({
          names: batch.map((b) => b.name),
          finish: (e) => (e === undefined ? resolve() : reject(e)),
        });
      }),
    toError: (e) => (e instanceof TwinloopError ? e : new TwinloopError('StorageError', String(e))),
    isUnreachable: (e) => / is unreachable/.test(e.message),
    maxItems: 10,
    maxInFlight: 2,
    delayMs: 0,
    maxBuffered: 100,
    retryMinMs: 20,
    retryMaxMs: 40,
    onOutage: (e) => outages.push(e),
    ...over,
  });
  const push = (name: string, size = 1, key?: string) =>
    new Promise<string>((resolve, reject) => {
      p.push({
        name,
        size,
        key,
        resolve: () => {
          settled.push(name);
          resolve(name);
        },
        reject: (e) => {
          settled.push(`!${name}`);
          reject(e as Error);
        },
      });
    }).catch((e: unknown) => `rejected: ${(e as Error).message}`);
  return { p, calls, settled, outages, push };
}

const turn = () => new Promise((r) => setImmediate(r));
const unreachable = () => new TwinloopError('StorageError', 'PostgreSQL at x is unreachable (ECONNREFUSED).');

describe('CommitPipeline', () => {
  it('runs up to maxInFlight commits at once and settles waiters in the order their commits started', async () => {
    const h = harness();
    const a = h.push('a');
    await turn();
    const b = h.push('b');
    await turn();
    const c = h.push('c');
    await turn();
    expect(h.calls.map((x) => x.names)).toEqual([['a'], ['b']]); // c waits: two in flight
    h.calls[1]!.finish(); // b commits first …
    await turn();
    expect(h.settled).toEqual([]); // … but settles only after a
    expect(h.calls.map((x) => x.names)).toEqual([['a'], ['b'], ['c']]);
    h.calls[0]!.finish();
    await turn();
    expect(h.settled).toEqual(['a', 'b']);
    h.calls[2]!.finish();
    expect(await Promise.all([a, b, c])).toEqual(['a', 'b', 'c']);
  });

  it('never has two items of one key in flight: the batch stops before the second', async () => {
    const h = harness({ maxInFlight: 3 });
    void h.push('p1-a', 1, 'p1');
    void h.push('p2-a', 1, 'p2');
    void h.push('p1-b', 1, 'p1');
    void h.push('x', 1);
    await turn();
    expect(h.calls.map((x) => x.names)).toEqual([['p1-a', 'p2-a']]);
    h.calls[0]!.finish();
    await turn();
    await turn();
    expect(h.calls.map((x) => x.names)).toEqual([
      ['p1-a', 'p2-a'],
      ['p1-b', 'x'],
    ]);
  });

  it('takes at most maxItems units per commit (one bigger item still goes alone)', async () => {
    const h = harness({ maxInFlight: 1 });
    void h.push('big', 25);
    void h.push('s1', 6);
    void h.push('s2', 6);
    await turn();
    h.calls[0]!.finish();
    await turn();
    await turn();
    expect(h.calls.map((x) => x.names)).toEqual([['big'], ['s1']]);
  });

  it('keeps the items of commits that found PostgreSQL unreachable, retries them first and in order, once at a time', async () => {
    const h = harness();
    const a = h.push('a');
    await turn();
    const b = h.push('b');
    await turn();
    const c = h.push('c');
    h.calls[1]!.finish(unreachable()); // b fails first, then a
    h.calls[0]!.finish(unreachable());
    await turn();
    expect(h.outages.map((o) => o.state)).toEqual(['started']);
    expect(h.p.unreachableSince?.reason).toMatch(/unreachable/);
    expect(h.p.buffered).toBe(3);
    await new Promise((r) => setTimeout(r, 80)); // the backoff
    expect(h.calls.slice(2).map((x) => x.names)).toEqual([['a', 'b', 'c']]);
    // The retry fails again: still one attempt at a time, after a longer wait.
    h.calls[2]!.finish(unreachable());
    await new Promise((r) => setTimeout(r, 100));
    expect(h.calls.length).toBe(4);
    h.calls[3]!.finish();
    expect(await Promise.all([a, b, c])).toEqual(['a', 'b', 'c']);
    expect(h.outages.map((o) => o.state)).toEqual(['started', 'ended']);
    expect(h.outages[1]).toMatchObject({ state: 'ended', attempts: 3, points: 3 });
  });

  it('rejects the waiters of a commit that failed for another reason, and goes on with the next', async () => {
    const h = harness();
    const a = h.push('a');
    await turn();
    const b = h.push('b');
    await turn();
    h.calls[0]!.finish(new TwinloopError('StorageError', 'a value is out of range'));
    h.calls[1]!.finish();
    expect(await a).toBe('rejected: a value is out of range');
    expect(await b).toBe('b');
    expect(h.outages).toEqual([]);
  });

  it('refuses beyond maxBuffered units waiting, and says why', async () => {
    const h = harness({ maxBuffered: 5, maxInFlight: 1 });
    void h.push('a', 4);
    expect(h.p.refusal(1)).toBeUndefined();
    expect(h.p.refusal(2)?.code).toBe('ServiceUnavailable');
    expect(h.p.refusal(2)?.message).toMatch(/cannot keep up.*4 points already wait \(limit 5\)/);
    expect(h.p.refusal(0)).toBeUndefined();
  });

  it('close() commits what is queued, and rejects rather than retries an outage once closed', async () => {
    const h = harness({ maxInFlight: 1 });
    const a = h.push('a');
    await turn();
    const b = h.push('b');
    await turn();
    const closing = h.p.close();
    h.calls[0]!.finish(unreachable());
    await turn();
    await turn();
    expect(await a).toMatch(/^rejected: .*unreachable/);
    h.calls[1]!.finish();
    await closing;
    expect(await b).toBe('b');
    expect(h.p.buffered).toBe(0);
  });
});
