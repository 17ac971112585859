// Hostile telemetry over a real embedded broker (aedes) and real MQTT.js clients, into the real
// ingest stack (SQLite): hostile keys, 10k-deep JSON, 1e999, bad UTF-8, bad timestamps. Every
// acknowledged message is either stored or dead-lettered with a clear reason (never InternalError),
// the broker keeps serving, and every valid reading that was acknowledged is in history.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import mqtt from 'mqtt';
import type { MqttClient } from 'mqtt';
import { AedesBroker } from '../../src/adapters/mqtt/aedes-broker.js';
import { createIngestStack, type IngestStack } from '../../src/adapters/mqtt/mqtt-test-fixture.js';

let dir: string;
let stack: IngestStack;
let broker: AedesBroker;
let client: MqttClient;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'twinloop-mqtt-fuzz-'));
  stack = createIngestStack({ dataDir: dir, twins: 3, synchronous: 'NORMAL' });
  broker = new AedesBroker({
    host: '127.0.0.1',
    port: 0,
    ingest: stack.service,
    maxMessageBytes: 256 * 1024,
  });
  await broker.start();
  client = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0, clientId: 'fuzzer' });
});

afterAll(async () => {
  client.end(true);
  await broker.close();
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});

const TOPIC = 'twins/pump-1/telemetry';
let nextTs = 1_700_000_000_000;

function counts(): { accepted: number; dead: number } {
  const s = stack.service.stats.snapshot();
  return { accepted: s.acceptedMessages, dead: s.deadLetters };
}

async function stored(ts: number, value: number): Promise<boolean> {
  const points = (
    await stack.history.queryRaw({
      workspace: 'default',
      twinId: 'pump-1',
      path: 'temperature',
      from: ts,
      to: ts + 1,
      limit: 10,
    })
  ).points;
  return points.some((p) => p.ts === ts && p.value === value);
}

const hostileKey = fc.constantFrom('__proto__', 'constructor', 'prototype');
const name = fc.stringMatching(/^[a-z][a-zA-Z0-9]{0,6}$/);

/** A payload and whether it is valid telemetry (then its timestamp and value). */
type Case = { payload: Buffer; valid?: { ts: number; value: number } };

const cases: fc.Arbitrary<() => Case> = fc.oneof(
  // valid readings, each with its own source time
  fc.double({ min: -1e6, max: 1e6, noNaN: true }).map((v) => () => {
    const ts = nextTs++;
    const value = Object.is(v, -0) ? 0 : v;
    return { payload: Buffer.from(JSON.stringify({ $ts: ts, temperature: value })), valid: { ts, value } };
  }),
  // a hostile key at any depth
  fc
    .tuple(fc.array(name, { maxLength: 5 }), hostileKey, fc.jsonValue({ maxDepth: 2 }))
    .map(([path, key, leaf]) => () => {
      let inner = `{"${key}":${JSON.stringify(leaf)}}`;
      for (let i = path.length - 1; i >= 0; i--) inner = `{"${path[i]}":${inner}}`;
      return { payload: Buffer.from(`{"temperature":1,${inner.slice(1)}`) };
    }),
  // deep nesting, closed or not
  fc
    .tuple(fc.integer({ min: 129, max: 20_000 }), fc.boolean(), fc.constantFrom('[', '{"a":'))
    .map(([depth, closed, open]) => () => {
      const close = open === '[' ? ']' : '}';
      return {
        payload: Buffer.from(`{"temperature":${open.repeat(depth)}1${closed ? close.repeat(depth) : ''}}`),
      };
    }),
  // numbers out of range
  fc
    .constantFrom('1e999', '-1e999', '1E400')
    .map((n) => () => ({ payload: Buffer.from(`{"temperature":${n}}`) })),
  // bad timestamps
  fc
    .oneof(fc.string({ maxLength: 20 }), fc.constantFrom(1e300, -1e300, '2026-13-40T99:00:00Z', '1e999'))
    .map((ts) => () => ({
      payload: Buffer.from(
        `{"$ts":${typeof ts === 'string' && ts !== '1e999' ? JSON.stringify(ts) : String(ts)},"temperature":1}`,
      ),
    })),
  // bytes that are not UTF-8, and random bytes
  fc.uint8Array({ maxLength: 64 }).map((b) => () => ({
    payload: Buffer.concat([Buffer.from('{"temperature":"'), Buffer.from([0xff, ...b]), Buffer.from('"}')]),
  })),
  fc.uint8Array({ maxLength: 200 }).map((b) => () => ({ payload: Buffer.from(b) })),
);

describe('MQTT telemetry fuzz', () => {
  it('dead-letters {"__proto__": …} with its reason instead of acknowledging zero readings', async () => {
    const before = counts();
    await client.publishAsync(TOPIC, '{"__proto__":{"temperature":99}}', { qos: 1 });
    const after = counts();
    expect(after.dead).toBe(before.dead + 1);
    expect(after.accepted).toBe(before.accepted);
    const [letter] = await stack.deadLetters.list({ workspace: 'default', limit: 1 });
    expect(letter).toMatchObject({ code: 'InvalidTelemetry' });
    expect(letter!.problems?.[0]).toMatchObject({ code: 'json.key.forbidden', pointer: '/__proto__' });
    expect(letter!.reason).toMatch(/"__proto__" is not allowed/);
  });

  it('property: every acknowledged message is stored or dead-lettered with a clear code; valid ones are all in history', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(cases, { minLength: 1, maxLength: 8 }), async (batch) => {
        const made = batch.map((f) => f());
        const before = counts();
        for (const c of made) await client.publishAsync(TOPIC, c.payload, { qos: 1 });
        const after = counts();
        // nothing acknowledged is lost: each message is either accepted or dead-lettered
        expect(after.accepted - before.accepted + (after.dead - before.dead)).toBe(made.length);
        for (const c of made) if (c.valid) expect(await stored(c.valid.ts, c.valid.value)).toBe(true);
        const letters = await stack.deadLetters.list({
          workspace: 'default',
          limit: after.dead - before.dead || 1,
        });
        for (const l of letters.slice(0, after.dead - before.dead)) {
          expect(l.code).not.toBe('InternalError');
          expect(l.reason.length).toBeGreaterThan(0);
        }
        expect(client.connected).toBe(true);
      }),
      { numRuns: 60 },
    );
    expect(stack.service.stats.snapshot().deadLettersByCode['InternalError']).toBeUndefined();
  }, 120_000);
});
