/**
 * The JetStream publisher against the machine's NATS: PubAcks with stream sequences, a retried id
 * dropped by the duplicate window, and every way a publish is not known to be stored (no stream on
 * the subject, JetStream's refusal, no answer in time, closing) failing as ServiceUnavailable.
 */
import crypto from 'node:crypto';
import { connect, headers, nanos, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caught } from '../../../test/support/caught.js';
import { JetStreamPublisher } from './jetstream-publisher.js';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const run = `p${crypto.randomBytes(5).toString('hex')}`;
const stream = `TLTEST_${run.toUpperCase()}`;
let nc: NatsConnection;
let pub: JetStreamPublisher;
const data = (s: string) => new TextEncoder().encode(s);
const withId = (id?: string) => {
  const h = headers();
  if (id !== undefined) h.set('Nats-Msg-Id', id);
  return h;
};

beforeAll(async () => {
  nc = await connect({ servers: NATS_URL, noAsyncTraces: true });
  const jsm = await nc.jetstreamManager();
  await jsm.streams.add({ name: stream, subjects: [`${run}.in.*`], duplicate_window: nanos(60_000) });
  pub = new JetStreamPublisher(nc, 400);
});

afterAll(async () => {
  pub.close();
  const jsm = await nc.jetstreamManager();
  await jsm.streams.delete(stream).catch(() => undefined);
  await nc.close();
});

describe('JetStreamPublisher', () => {
  it('resolves with the stream sequence, thousands in flight, and marks a retried id as a duplicate', async () => {
    const acks = await Promise.all(
      Array.from({ length: 2000 }, (_, i) =>
        pub.publish(`${run}.in.${i % 3}`, data(`{"i":${i}}`), withId(`m${i}`)),
      ),
    );
    expect(acks.every((a) => a.stream === stream && !a.duplicate)).toBe(true);
    expect(new Set(acks.map((a) => a.seq)).size).toBe(2000);
    const again = await pub.publish(`${run}.in.0`, data('{"i":0}'), withId('m0'));
    expect(again).toEqual({ stream, seq: acks[0]!.seq, duplicate: true });
    expect(pub.inFlight).toBe(0);
  });

  it('fails fast when no stream takes the subject (no responders)', async () => {
    const t0 = Date.now();
    const e = await caught(pub.publish(`${run}.nowhere`, data('x'), withId()));
    expect(e.code).toBe('ServiceUnavailable');
    expect(e.message).toMatch(/503.*no stream takes the subject/);
    expect(Date.now() - t0).toBeLessThan(350);
  });

  it("fails with JetStream's reason when it refuses the message", async () => {
    const h = withId('x1');
    h.set('Nats-Expected-Stream', 'NOT_THIS_ONE');
    const e = await caught(pub.publish(`${run}.in.1`, data('x'), h));
    expect(e.code).toBe('ServiceUnavailable');
    expect(e.message).toMatch(/JetStream refused it: .*stream/i);
  });

  it('fails a publish nobody answers after the timeout, and ignores a late answer', async () => {
    // A plain subscriber on the subject: interest (so no 503), but it never replies in time.
    const late: { reply?: string }[] = [];
    const sub = nc.subscribe(`${run}.silent`, { callback: (_e, m) => late.push({ reply: m.reply }) });
    try {
      const e = await caught(pub.publish(`${run}.silent`, data('x'), withId()));
      expect(e.code).toBe('ServiceUnavailable');
      expect(e.message).toMatch(/no answer from JetStream within 400 ms/);
      expect(late).toHaveLength(1);
      nc.publish(late[0]!.reply!, data('{"stream":"S","seq":1}')); // too late: nothing to settle
      await nc.flush();
      expect(pub.inFlight).toBe(0);
    } finally {
      sub.unsubscribe();
    }
  });

  it('a garbage answer is not a confirmation', async () => {
    const sub = nc.subscribe(`${run}.liar`, {
      callback: (_e, m) => m.respond(data('{"__proto__":{"seq":1}}')),
    });
    try {
      const e = await caught(pub.publish(`${run}.liar`, data('x'), withId()));
      expect(e.message).toMatch(/without a stream sequence/);
    } finally {
      sub.unsubscribe();
    }
  });

  it('close() fails what still waits, and later publishes', async () => {
    const own = new JetStreamPublisher(nc, 10_000);
    const sub = nc.subscribe(`${run}.hold`, { callback: () => undefined });
    try {
      const waiting = caught(own.publish(`${run}.hold`, data('x'), withId()));
      await nc.flush();
      own.close();
      expect((await waiting).message).toMatch(/closing/);
      expect((await caught(own.publish(`${run}.in.0`, data('x'), withId()))).message).toMatch(/closed/);
    } finally {
      sub.unsubscribe();
    }
  });
});
