/**
 * NATS endpoints against the machine's NATS (NATS_URL, with JetStream): core publishes arrive on
 * the subject with their CloudEvent headers; JetStream publishes are acknowledged by the stream and
 * deduplicated by event id; an unreachable server is a retryable DeliveryFailure.
 */
import { connect, StringCodec, type NatsConnection } from 'nats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeliveryFailure, type CloudEvent } from '../../core/ports/event-routing.js';
import { NatsRouteSender } from './nats-route-sender.js';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const run = `t${Date.now().toString(36)}${Math.floor(Math.random() * 1e6)}`;
let nc: NatsConnection;

function event(i: number): CloudEvent {
  return {
    specversion: '1.0',
    id: `${run}-${i}`,
    source: 'twins.test',
    type: 'Microsoft.DigitalTwins.Twin.Update',
    subject: 'pump-1',
    time: new Date(0).toISOString(),
    datacontenttype: 'application/json',
    data: { modelId: 'dtmi:x:P;1', patch: [{ op: 'replace', path: '/v', value: i }] },
  };
}

beforeAll(async () => {
  nc = await connect({ servers: NATS_URL });
});

afterAll(async () => {
  const jsm = await nc.jetstreamManager();
  await jsm.streams.delete(`routes_${run}`).catch(() => undefined);
  await nc.drain();
});

describe('NatsRouteSender (machine NATS)', () => {
  it('publishes structured CloudEvents with ce-* headers to a subject', async () => {
    const subject = `twinloop.${run}.core`;
    const sub = nc.subscribe(subject, { max: 3 });
    await nc.flush();
    const sender = new NatsRouteSender({ url: NATS_URL, subject, jetstream: false });
    for (let i = 0; i < 3; i++) await sender.send(event(i));
    const got: { body: CloudEvent; type?: string }[] = [];
    const sc = StringCodec();
    for await (const m of sub)
      got.push({ body: JSON.parse(sc.decode(m.data)) as CloudEvent, type: m.headers?.get('ce-type') });
    await sender.close();
    expect(got.map((g) => (g.body.data as { patch: { value: number }[] }).patch[0]!.value)).toEqual([
      0, 1, 2,
    ]);
    expect(got[0]!.type).toBe('Microsoft.DigitalTwins.Twin.Update');
    expect(got[0]!.body).toMatchObject({
      specversion: '1.0',
      id: `${run}-0`,
      source: 'twins.test',
      subject: 'pump-1',
    });
  });

  it('with JetStream, waits for the stream and stores a redelivered event once', async () => {
    const subject = `twinloop.${run}.js`;
    const jsm = await nc.jetstreamManager();
    await jsm.streams.add({ name: `routes_${run}`, subjects: [subject] });
    const sender = new NatsRouteSender({ url: NATS_URL, subject, jetstream: true });
    await sender.send(event(1));
    await sender.send(event(1)); // at-least-once: the same event again
    await sender.send(event(2));
    await sender.close();
    const info = await jsm.streams.info(`routes_${run}`);
    expect(info.state.messages).toBe(2);
  });

  it('an unreachable server is a retryable failure, never a crash', async () => {
    const sender = new NatsRouteSender({
      url: 'nats://127.0.0.1:1',
      subject: 'x',
      jetstream: false,
      timeoutMs: 500,
    });
    const err = await sender.send(event(0)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeliveryFailure);
    expect((err as DeliveryFailure).permanent).toBe(false);
    await sender.close();
  });

  it('a JetStream endpoint whose subject has no stream fails (retried), never counts as delivered', async () => {
    const sender = new NatsRouteSender({
      url: NATS_URL,
      subject: `twinloop.${run}.nostream`,
      jetstream: true,
      timeoutMs: 1000,
    });
    await expect(sender.send(event(0))).rejects.toBeInstanceOf(DeliveryFailure);
    await sender.close();
  });
});
