/**
 * The NATS cluster feed against the machine's NATS: changes reach every subscriber in order with
 * their sequence, a node resumes after the last change it applied, a gap beyond what the stream
 * keeps is reported, live events fan out over core NATS, and hostile content is carried or refused
 * cleanly.
 */
import crypto from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caught } from '../../../test/support/caught.js';
import type { FeedChange, FeedEvent } from '../../core/ports/cluster.js';
import { openNatsClusterFeed, type NatsClusterFeed } from './nats-cluster-feed.js';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const run = crypto.randomBytes(5).toString('hex');
const prefix = `tltest.feed${run}`;
let a: NatsClusterFeed;
let b: NatsClusterFeed;

async function until(what: string, ok: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

beforeAll(async () => {
  a = await openNatsClusterFeed({ url: NATS_URL, subjectPrefix: prefix, maxChanges: 50, name: 'node-a' });
  b = await openNatsClusterFeed({ url: NATS_URL, subjectPrefix: prefix, maxChanges: 50, name: 'node-b' });
});

afterAll(async () => {
  await a.destroy();
  await a.close();
  await b.close();
});

describe('NatsClusterFeed (machine NATS)', () => {
  it('delivers committed changes to every node in order, resumes after a given seq, and reports a gap', async () => {
    const seenA: [number, FeedChange][] = [];
    const seenB: [number, FeedChange][] = [];
    const subA = await a.subscribe({ onChange: (c, s) => seenA.push([s, c]) });
    const subB = await b.subscribe({ onChange: (c, s) => seenB.push([s, c]) });
    const seqs: number[] = [];
    for (let i = 0; i < 10; i++)
      seqs.push(await a.publishChange({ kind: 'twin.upsert', origin: 'node-a', data: { id: `t${i}`, i } }));
    await until('both saw 10', () => seenA.length === 10 && seenB.length === 10);
    expect(seenB.map(([s]) => s)).toEqual(seqs);
    expect(seenB.map(([, c]) => (c.data as { i: number }).i)).toEqual([...Array(10).keys()]);
    expect(seenA).toEqual(seenB);
    expect(subB.lastSeq).toBe(seqs[9]);
    expect(await b.position()).toBe(seqs[9]);
    await subB.close();

    // node b was away for 5 changes: it resumes after the last one it applied
    for (let i = 10; i < 15; i++)
      await a.publishChange({ kind: 'twin.upsert', origin: 'node-a', data: { i } });
    const resumed: number[] = [];
    const gaps: [number, number][] = [];
    const again = await b.subscribe(
      { onChange: (c) => resumed.push((c.data as { i: number }).i), onGap: (f, t) => gaps.push([f, t]) },
      seqs[9],
    );
    await until('b caught up', () => resumed.length === 5);
    expect(resumed).toEqual([10, 11, 12, 13, 14]);
    expect(gaps).toEqual([]);
    await again.close();

    // away for longer than the stream keeps (50 changes): a gap, so the read model is reloaded
    const last = again.lastSeq;
    for (let i = 15; i < 80; i++)
      await a.publishChange({ kind: 'twin.upsert', origin: 'node-a', data: { i } });
    const late: number[] = [];
    const lateGaps: [number, number][] = [];
    const third = await b.subscribe(
      { onChange: (c) => late.push((c.data as { i: number }).i), onGap: (f, t) => lateGaps.push([f, t]) },
      last,
    );
    await until('b got what is kept', () => late.length === 50);
    expect(late).toEqual(Array.from({ length: 50 }, (_, k) => 30 + k));
    expect(lateGaps).toEqual([[last + 1, last + 15]]);
    await third.close();
    await subA.close();
  });

  it('fans live events out over core NATS', async () => {
    const got: FeedEvent[] = [];
    const sub = await b.subscribe({ onChange: () => undefined, onEvent: (e) => got.push(e) });
    await new Promise((r) => setTimeout(r, 100));
    for (let i = 0; i < 5; i++) await a.publishEvent({ kind: 'telemetry', origin: 'node-a', data: { v: i } });
    await until('5 events', () => got.length === 5);
    expect(got.map((e) => (e.data as { v: number }).v)).toEqual([0, 1, 2, 3, 4]);
    await sub.close();
  });

  it('hostile: odd content is carried as data, a too-large change is refused, bad messages are reported', async () => {
    const seen: FeedChange[] = [];
    const errors: Error[] = [];
    const start = await a.publishChange({ kind: 'marker', origin: 'node-a', data: null });
    const sub = await b.subscribe({ onChange: (c) => seen.push(c), onError: (e) => errors.push(e) }, start);
    const evil = {
      kind: "'; DROP TABLE x; --",
      origin: '__proto__',
      data: JSON.parse('{"__proto__":{"polluted":true},"s":"\\u0000💥\\ud800"}') as unknown,
    };
    await a.publishChange(evil);
    expect(
      await caught(a.publishChange({ kind: 'k', origin: 'o', data: 'x'.repeat(1024 * 1024) })),
    ).toMatchObject({
      code: 'PayloadTooLarge',
    });
    // a message that is not a feed change (written straight to the subject) is reported, not applied
    const raw = await (await import('nats')).connect({ servers: NATS_URL });
    await raw.jetstream().publish(`${prefix}.feed.change`, new Uint8Array([0xff, 0x00, 0x7b]));
    await raw.close();
    await a.publishChange({ kind: 'after', origin: 'node-a', data: null });
    await until('after', () => seen.some((c) => c.kind === 'after'));
    const got = seen.find((c) => c.kind === evil.kind)!;
    expect(got.origin).toBe('__proto__');
    expect(Object.getOwnPropertyNames(got.data)).toContain('__proto__');
    expect(({} as { polluted?: boolean }).polluted).toBeUndefined();
    expect(errors).toHaveLength(1);
    expect(seen.map((c) => c.kind)).toEqual([evil.kind, 'after']);
    await sub.close();
  });
});
