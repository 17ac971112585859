// An api node's ingest (device messages to the bus) and a worker's (bus to the store), in one
// process over the real SQLite stores: what the bus got is what the worker stores.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createIngestStack, pumpModels, type IngestStack } from '../../adapters/mqtt/mqtt-test-fixture.js';
import { TwinloopError } from '../errors/errors.js';
import type { BusMessage, IngestBus, IngestMessage } from '../ports/cluster.js';
import type { IncomingMessage } from '../telemetry/telemetry-types.js';
import { BusIngestService } from './bus-ingest-service.js';
import { fromBusMessage } from './ingest-envelope.js';

let dir: string;
let stack: IngestStack;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'twinloop-bus-ingest-'));
  stack = createIngestStack({ dataDir: dir, twins: 2, synchronous: 'NORMAL' });
});
afterEach(async () => {
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});

/** A bus that keeps what it is given, or fails with `fail`. */
function memoryBus(fail?: () => Error) {
  const stored: BusMessage[] = [];
  const bus: IngestBus = {
    partitions: 1,
    partitionOf: () => 0,
    publish(m: IngestMessage) {
      if (fail) return Promise.reject(fail());
      stored.push({ ...m, partition: 0, seq: stored.length + 1, deliveries: 1 });
      return Promise.resolve({ partition: 0, seq: stored.length, duplicate: false });
    },
    openPartition: () => Promise.reject(new Error('not here')),
    close: () => Promise.resolve(),
  };
  return { bus, stored };
}

function api(bus: IngestBus, maxPayloadBytes = 1024) {
  return new BusIngestService({
    bus,
    workspace: () => undefined, // an api node validates nothing itself
    history: stack.history,
    deadLetters: stack.deadLetters,
    live: stack.live,
    maxPayloadBytes,
  });
}

const msg = (payload: string | Buffer, extra: Partial<IncomingMessage> = {}): IncomingMessage => ({
  source: 'mqtt',
  workspace: 'default',
  topic: 'twins/pump-1/telemetry',
  clientId: 'dev',
  receivedAt: 5_000,
  payload: Buffer.isBuffer(payload) ? payload : Buffer.from(payload),
  twinId: 'pump-1',
  ...extra,
});

describe('BusIngestService and the worker side', () => {
  it('publishes device and HTTP telemetry, which a worker then validates and stores with its checkpoint', async () => {
    const { bus, stored } = memoryBus();
    const node = api(bus);
    expect(await node.ingest(msg('{"temperature":21}'))).toEqual({ ok: true, readings: 0 });
    expect(await node.ingest(msg('{"nope":1}'))).toEqual({ ok: true, readings: 0 }); // refused later, by a worker
    expect(
      await node.ingestAdt(msg('{"temperature":22,"nope":1}', { source: 'http', receivedAt: 6_000 })),
    ).toEqual({ ok: true, readings: 0 });
    expect(stored).toHaveLength(3);
    expect(await stack.deadLetters.count('default')).toBe(0); // nothing stored on the api node

    const outcomes = await stack.service.ingestSequenced(stored.map(fromBusMessage), {
      key: 'ingest/t/0',
      seq: 3,
    });
    expect(outcomes.map((o) => o.ok)).toEqual([true, false, true]);
    expect(await stack.history.readCheckpoint('ingest/t/0')).toBe(3);
    const points = await stack.history.queryRaw({
      workspace: 'default',
      twinId: 'pump-1',
      path: 'temperature',
      from: 0,
      to: 1e15,
      limit: 10,
    });
    expect(points.points).toEqual([
      { ts: 5_000, value: 21 },
      { ts: 6_000, value: 22 },
    ]);
    // The device message refused whole, the HTTP one's stray value kept: two dead letters.
    expect(await stack.deadLetters.count('default')).toBe(2);
  });

  it('dead-letters an oversize payload on the api node; a bus refusal is a dead letter, an outage an error', async () => {
    const { bus, stored } = memoryBus();
    expect(await api(bus, 16).ingest(msg('{"temperature": 21.0000000001}'))).toMatchObject({
      ok: false,
      code: 'PayloadTooLarge',
    });
    expect(stored).toHaveLength(0);
    const tooLarge = memoryBus(() => new TwinloopError('PayloadTooLarge', 'above the bus limit'));
    expect(await api(tooLarge.bus).ingest(msg('{"temperature":1}'))).toMatchObject({
      ok: false,
      code: 'PayloadTooLarge',
    });
    expect(await stack.deadLetters.count('default')).toBe(2);
    const down = memoryBus(() => new TwinloopError('ServiceUnavailable', 'NATS is unreachable'));
    await expect(api(down.bus).ingest(msg('{"temperature":1}'))).rejects.toMatchObject({
      code: 'ServiceUnavailable',
    });
    expect(await stack.deadLetters.count('default')).toBe(2);
  });

  it('stores derived values straight in the history store and on the live bus, never on the bus', async () => {
    const { bus, stored } = memoryBus();
    const models = pumpModels();
    const node = new BusIngestService({
      bus,
      workspace: (ws) => (ws === 'default' ? { graph: stack.graph, models } : undefined),
      history: stack.history,
      deadLetters: stack.deadLetters,
      live: stack.live,
    });
    const seen: unknown[] = [];
    stack.live.subscribe((events) => seen.push(...events));
    const r = await node.ingestDerivedMany([
      { workspace: 'default', twinId: 'pump-1', time: 7_000, values: { powerKw: 1.5 } },
      { workspace: 'default', twinId: 'nope', time: 7_000, values: { powerKw: 2 } },
    ]);
    expect(r.stored).toBe(1);
    expect(r.refused.map((x) => [x.index, x.error.code])).toEqual([[1, 'BadRequest']]);
    expect(stored).toHaveLength(0);
    const points = await stack.history.queryRaw({
      workspace: 'default',
      twinId: 'pump-1',
      path: 'powerKw',
      from: 0,
      to: 1e15,
      limit: 10,
    });
    expect(points.points).toEqual([{ ts: 7_000, value: 1.5 }]);
    expect(seen).toMatchObject([
      { type: 'telemetry', twinId: 'pump-1', derived: true, values: { powerKw: 1.5 } },
    ]);
    expect(stack.graph.getTwin('pump-1')?.telemetry.powerKw).toEqual({ value: 1.5, time: 7_000 });
  });
});
