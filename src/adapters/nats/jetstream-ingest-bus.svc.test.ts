/**
 * The JetStream ingest bus against the machine's NATS: per-partition order with stream sequences,
 * redelivery of what was not acked, the duplicate window, a refused partition count, fencing of an
 * older epoch's reader, and hostile input (SQL in a twin id, 1 MB payload, non-UTF-8 bytes).
 */
import crypto from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { caught } from '../../../test/support/caught.js';
import { partitionOfTwin, type IngestMessage } from '../../core/ports/cluster.js';
import { openJetStreamIngestBus, type JetStreamIngestBus } from './jetstream-ingest-bus.js';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const run = `t${crypto.randomBytes(5).toString('hex')}`;
const prefix = `tltest.${run}`;
let bus: JetStreamIngestBus;

const msg = (twinId: string, i: number, payload?: Uint8Array): IngestMessage => ({
  id: `${run}-${twinId}-${i}`,
  topic: `devices/${twinId}/telemetry`,
  payload: payload ?? new TextEncoder().encode(JSON.stringify({ i })),
  clientId: `client-${twinId}`,
  receivedAt: 1_700_000_000_000 + i,
  twinId,
});

beforeAll(async () => {
  bus = await openJetStreamIngestBus({
    url: NATS_URL,
    subjectPrefix: prefix,
    partitions: 4,
    ackWaitMs: 1000,
    fetchTimeoutMs: 1000,
  });
});

afterAll(async () => {
  await bus.destroy();
  await bus.close();
});

describe('partitionOfTwin (FNV-1a)', () => {
  it('is FNV-1a 32 of the UTF-8 bytes mod N', () => {
    // FNV-1a("a") = 0xe40c292c, FNV-1a("foobar") = 0xbf9cf968 (reference values).
    expect(partitionOfTwin('a', 2 ** 31)).toBe(0xe40c292c % 2 ** 31);
    expect(partitionOfTwin('foobar', 1000)).toBe(0xbf9cf968 % 1000);
    expect(partitionOfTwin('', 7)).toBe(0x811c9dc5 % 7);
  });
});

describe('JetStreamIngestBus (machine NATS)', () => {
  it('keeps each partition in publish order and reads it with stream sequences, then nothing after ack', async () => {
    const twins = ['pump-1', 'pump-2', 'valve-7', 'tank-3', 'fan-9'];
    const sent = new Map<number, string[]>();
    for (let i = 0; i < 40; i++) {
      const t = twins[i % twins.length]!;
      const r = await bus.publish(msg(t, i));
      expect(r.duplicate).toBe(false);
      expect(r.partition).toBe(partitionOfTwin(t, 4));
      sent.set(r.partition, [...(sent.get(r.partition) ?? []), `${t}-${i}`]);
    }
    for (const [p, expected] of sent) {
      const reader = await bus.openPartition(p, { epoch: 1 });
      const got: string[] = [];
      const seqs: number[] = [];
      while (got.length < expected.length) {
        const b = await reader.next(7, 1000);
        expect(b.messages.length).toBeGreaterThan(0);
        for (const m of b.messages) {
          got.push(`${m.twinId}-${(JSON.parse(new TextDecoder().decode(m.payload)) as { i: number }).i}`);
          seqs.push(m.seq);
          expect(m.partition).toBe(p);
          expect(m.deliveries).toBe(1);
          expect(m.topic).toBe(`devices/${m.twinId}/telemetry`);
          expect(m.clientId).toBe(`client-${m.twinId}`);
        }
        expect(b.lastSeq).toBe(seqs[seqs.length - 1]);
        await b.ack();
      }
      expect(got).toEqual(expected);
      expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
      expect((await reader.next(10, 300)).messages).toHaveLength(0);
      await reader.close();
    }
  });

  it('delivers again what was not acked, after the ack wait, marked as a redelivery', async () => {
    const twin = 'redeliver-me';
    const p = bus.partitionOf(twin);
    const first = await bus.publish(msg(twin, 1000));
    const reader = await bus.openPartition(p, { epoch: 5, fromSeq: first.seq });
    const b1 = await reader.next(10, 1000);
    expect(b1.messages.map((m) => m.seq)).toEqual([first.seq]);
    // not acked: nothing now, the same message after the 1 s ack wait
    expect((await reader.next(10, 200)).messages).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 1100));
    const b2 = await reader.next(10, 2000);
    expect(b2.messages.map((m) => [m.seq, m.deliveries])).toEqual([[first.seq, 2]]);
    await b2.ack();
    await new Promise((r) => setTimeout(r, 1100));
    expect((await reader.next(10, 200)).messages).toHaveLength(0);
    await reader.close();
  });

  it('a reader of a newer epoch starts from the checkpoint and fences the older one off', async () => {
    const twin = 'fenced';
    const p = bus.partitionOf(twin);
    const a = await bus.publish(msg(twin, 2000));
    const b = await bus.publish(msg(twin, 2001));
    const old = await bus.openPartition(p, { epoch: 10, fromSeq: a.seq });
    const fresh = await bus.openPartition(p, { epoch: 11, fromSeq: b.seq });
    const got = await fresh.next(10, 1000);
    expect(got.messages.map((m) => m.seq)).toEqual([b.seq]);
    await got.ack();
    // the old epoch's consumer is gone: its reader fails instead of taking messages
    const e = await caught(old.next(10, 300));
    expect(e).toMatchObject({ code: 'ServiceUnavailable' });
    await old.close();
    await fresh.close();
  });

  it('a pull that is partly filled ends at its expiry: an idle read takes about its wait, not the fetch timeout', async () => {
    const twin = 'partial';
    const p = bus.partitionOf(twin);
    const first = await bus.publish(msg(twin, 4000));
    await bus.publish(msg(twin, 4001));
    const reader = await bus.openPartition(p, { epoch: 30, fromSeq: first.seq });
    // Two of 100: the pull stays open until its expiry. A read answers as soon as a message is there,
    // so on a busy machine the two may come in two reads of the same pull.
    const seen: string[] = [];
    for (let i = 0; i < 5 && seen.length < 2; i++) {
      const got = await reader.next(100, 200);
      seen.push(...got.messages.map((m) => m.twinId));
      await got.ack();
    }
    expect(seen).toEqual([twin, twin]);
    const t0 = Date.now();
    const empty = await reader.next(100, 200);
    expect(empty.messages).toEqual([]);
    expect(Date.now() - t0).toBeLessThan(900); // the fetch timeout is 1000 here; before: 1,200+
    await reader.close();
  });

  it('reads a partition in order while it is published to, without a delivery gap', async () => {
    const twin = 'steady';
    const p = bus.partitionOf(twin);
    const first = await bus.publish(msg(twin, 5000));
    const reader = await bus.openPartition(p, { epoch: 40, fromSeq: first.seq });
    let publishing = true;
    const sent: number[] = [first.seq];
    const publisher = (async () => {
      for (let i = 5001; publishing; i++) sent.push((await bus.publish(msg(twin, i))).seq);
    })();
    const seen: number[] = [];
    const until = Date.now() + 1500;
    try {
      while (Date.now() < until) {
        const b = await reader.next(7, 5); // small batches and short waits: many pulls end mid-stream
        seen.push(...b.messages.filter((m) => m.twinId === twin).map((m) => m.seq));
        await b.ack();
      }
    } finally {
      // Also when a read fails: the publisher must not outlive the test (and its stream).
      publishing = false;
      await publisher;
    }
    for (let tries = 0; tries < 50 && seen.length < sent.length; tries++) {
      const b = await reader.next(100, 50);
      seen.push(...b.messages.filter((m) => m.twinId === twin).map((m) => m.seq));
      await b.ack();
    }
    expect(sent.length).toBeGreaterThan(50);
    expect(seen).toEqual(sent);
    await reader.close();
  });

  it('stores a repeated message id once (duplicate window)', async () => {
    const m = msg('dup-twin', 3000);
    const r1 = await bus.publish(m);
    const r2 = await bus.publish({ ...m, payload: new TextEncoder().encode('other bytes') });
    expect(r1.duplicate).toBe(false);
    expect(r2).toEqual({ partition: r1.partition, seq: r1.seq, duplicate: true });
    const reader = await bus.openPartition(r1.partition, { epoch: 20, fromSeq: r1.seq });
    const b = await reader.next(10, 500);
    expect(b.messages.filter((x) => x.id === m.id)).toHaveLength(1);
    expect(new TextDecoder().decode(b.messages[0]!.payload)).toBe(JSON.stringify({ i: 3000 }));
    await b.ack();
    await reader.close();
  });

  it('refuses to start with another partition count, with a clear error', async () => {
    const e = await caught(openJetStreamIngestBus({ url: NATS_URL, subjectPrefix: prefix, partitions: 8 }));
    expect(e).toMatchObject({ code: 'InvalidConfig' });
    expect((e as Error).message).toMatch(/has 4 partitions but this node is configured with 8/);
    // the same count is accepted by a second node
    const again = await openJetStreamIngestBus({ url: NATS_URL, subjectPrefix: prefix, partitions: 4 });
    expect(again.partitions).toBe(4);
    await again.close();
  });

  it('refuses a partition out of range', async () => {
    expect(await caught(bus.openPartition(4, { epoch: 1 }))).toMatchObject({ code: 'InvalidArgument' });
    expect(await caught(bus.openPartition(-1, { epoch: 1 }))).toMatchObject({ code: 'InvalidArgument' });
  });

  it('hostile: SQL in ids and topics, odd unicode, non-UTF-8 bytes and NUL come back intact', async () => {
    const twin = "'; DROP TABLE x; --";
    const bytes = new Uint8Array([0xff, 0xfe, 0x00, 0xc3, 0x28, 0x80, 0x0d, 0x0a, 0xed, 0xa0, 0x80]);
    const m: IngestMessage = {
      id: "id\r\nNats-Msg-Id: forged; '--",
      topic: 'devices/\u0000/é/💥/\r\n',
      payload: bytes,
      clientId: '__proto__',
      receivedAt: 1,
      twinId: twin,
    };
    const r = await bus.publish(m);
    const reader = await bus.openPartition(r.partition, { epoch: 30, fromSeq: r.seq });
    const b = await reader.next(10, 500);
    const got = b.messages.find((x) => x.seq === r.seq)!;
    expect(got).toMatchObject({
      id: m.id,
      topic: m.topic,
      clientId: '__proto__',
      twinId: twin,
      receivedAt: 1,
    });
    expect(Buffer.from(got.payload).equals(Buffer.from(bytes))).toBe(true);
    await b.ack();
    await reader.close();
    expect(await caught(bus.publish({ ...m, id: 'x', twinId: 'bad\ud800' }))).toMatchObject({
      code: 'InvalidArgument',
    });
  });

  it('hostile: a 1 MB payload is refused with PayloadTooLarge, and the bus still works', async () => {
    const big = new Uint8Array(1024 * 1024 + 1);
    const e = await caught(bus.publish(msg('big', 1, big)));
    expect(e).toMatchObject({ code: 'PayloadTooLarge' });
    expect((e as Error).message).toMatch(/above the bus's limit of \d+ bytes/);
    // exactly max_payload: the headers push it over, still a clear error
    const edge = await caught(bus.publish(msg('big', 2, new Uint8Array(1024 * 1024))));
    expect(edge).toMatchObject({ code: 'PayloadTooLarge' });
    const ok = await bus.publish(msg('big', 3, new Uint8Array(900 * 1024)));
    expect(ok.seq).toBeGreaterThan(0);
  });

  it('an unreachable NATS is a ServiceUnavailable', async () => {
    const e = await caught(
      openJetStreamIngestBus({ url: 'nats://127.0.0.1:1', partitions: 4, timeoutMs: 1000 }),
    );
    expect(e).toMatchObject({ code: 'ServiceUnavailable' });
  });
});

describe('JetStreamIngestBus when NATS goes away (through a TCP proxy that is cut)', () => {
  it('publishes and reads fail with ServiceUnavailable, then work again after the reconnect', async () => {
    const target = new URL(NATS_URL);
    const sockets = new Set<net.Socket>();
    const listen = (port: number) =>
      new Promise<net.Server>((resolve) => {
        const server = net.createServer((client) => {
          const upstream = net.connect(Number(target.port || 4222), target.hostname);
          for (const s of [client, upstream]) {
            sockets.add(s);
            s.on('error', () => undefined);
            s.on('close', () => sockets.delete(s));
          }
          client.pipe(upstream).pipe(client);
        });
        server.listen(port, '127.0.0.1', () => resolve(server));
      });
    let proxy = await listen(0);
    const port = (proxy.address() as net.AddressInfo).port;
    // close() waits for open connections: destroy them first
    const cut = async () => {
      const closed = new Promise((r) => proxy.close(r));
      for (const s of sockets) s.destroy();
      await closed;
    };
    const via = await openJetStreamIngestBus({
      url: `nats://127.0.0.1:${port}`,
      subjectPrefix: prefix,
      partitions: 4,
      timeoutMs: 1000,
      fetchTimeoutMs: 1000,
    });
    try {
      const ok = await via.publish(msg('outage', 1));
      const reader = await via.openPartition(ok.partition, { epoch: 40, fromSeq: ok.seq });
      expect((await reader.next(10, 500)).messages.map((m) => m.seq)).toEqual([ok.seq]);
      await cut();
      expect(await caught(via.publish(msg('outage', 2)))).toMatchObject({ code: 'ServiceUnavailable' });
      expect(await caught(reader.next(10, 100))).toMatchObject({ code: 'ServiceUnavailable' });
      proxy = await listen(port);
      // the client reconnects by itself; the retried publish (same id) is stored once
      let again: { seq: number; duplicate: boolean } | undefined;
      for (let i = 0; i < 50 && !again; i++) {
        again = await via.publish(msg('outage', 2)).catch(() => undefined);
        if (!again) await new Promise((r) => setTimeout(r, 200));
      }
      expect(again).toBeDefined();
      const fresh = await via.openPartition(ok.partition, { epoch: 41, fromSeq: ok.seq + 1 });
      const b = await fresh.next(10, 1000);
      expect(b.messages.filter((m) => m.id === msg('outage', 2).id)).toHaveLength(1);
      await b.ack();
      await fresh.close();
      await reader.close();
    } finally {
      await via.close();
      await cut();
    }
  });
});
