// The ingest service against the real stores (SQLite in a temp folder), the real DTDL parser and graph.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { createIngestStack } from '../../adapters/mqtt/mqtt-test-fixture.js';
import type { IngestStack } from '../../adapters/mqtt/mqtt-test-fixture.js';
import type { LiveEvent } from '../live/live-events.js';
import type { IncomingMessage } from './telemetry-types.js';

let dir: string;
let stack: IngestStack;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'twinloop-ingest-'));
  stack = createIngestStack({ dataDir: dir, twins: 3, synchronous: 'NORMAL' });
});
afterEach(async () => {
  await stack.close();
  rmSync(dir, { recursive: true, force: true });
});

function msg(payload: string, extra: Partial<IncomingMessage> = {}): IncomingMessage {
  return {
    source: 'mqtt',
    workspace: 'default',
    topic: 't',
    receivedAt: 1_000,
    payload: Buffer.from(payload),
    twinId: 'pump-1',
    ...extra,
  };
}

async function raw(twinId: string, path: string) {
  return (await stack.history.queryRaw({ workspace: 'default', twinId, path, from: 0, to: 1e15, limit: 100 }))
    .points;
}

describe('IngestService', () => {
  it('stores readings, then updates the twin and publishes one live event per reading set', async () => {
    const events: LiveEvent[] = [];
    stack.live.subscribe((evs) => events.push(...evs));
    const out = await stack.service.ingest(
      msg('[{"$ts":2000,"temperature":21.5,"rpm":1450},{"$ts":3000,"temperature":22}]'),
    );
    expect(out).toEqual({ ok: true, readings: 3 });
    expect(await raw('pump-1', 'temperature')).toEqual([
      { ts: 2000, value: 21.5 },
      { ts: 3000, value: 22 },
    ]);
    expect(stack.graph.getTwin('pump-1')!.telemetry.temperature).toEqual({ value: 22, time: 3000 });
    expect(events).toHaveLength(2);
    expect(events[0]).toMatchObject({
      type: 'telemetry',
      twinId: 'pump-1',
      modelId: 'dtmi:twinloop:test:Pump;1',
      time: 2000,
    });
    expect(stack.service.stats.snapshot()).toMatchObject({ acceptedMessages: 1, acceptedReadings: 3 });
  });

  it("hands the live stream a device's own text of its values only when validation took them as they are", async () => {
    const seen: [LiveEvent, string | undefined][] = [];
    stack.live.subscribe((evs, json) => evs.forEach((e, i) => seen.push([e, json?.[i]])));
    const plain = '{"temperature":21.50, "rpm":1450}';
    expect(await stack.service.ingest(msg(plain))).toEqual({ ok: true, readings: 2 });
    // A unit wrapper is unwrapped: the text is not the values then. A $ts stays in the text.
    await stack.service.ingest(msg('{"temperature": {"value": 20, "unit": "degreeCelsius"}}'));
    await stack.service.ingest(msg('{"$ts":5000,"temperature":22}'));
    await stack.service.ingest(msg('[{"temperature":23}]'));
    // A repeated key is passed on as it came: the live stream checks it (event-json.ts) before use.
    await stack.service.ingest(msg('{"temperature":1,"temperature":24}'));
    expect(seen.map(([e, j]) => [(e as { values: unknown }).values, j])).toEqual([
      [{ temperature: 21.5, rpm: 1450 }, plain],
      [{ temperature: 20 }, undefined],
      [{ temperature: 22 }, '{"$ts":5000,"temperature":22}'],
      [{ temperature: 23 }, undefined],
      [{ temperature: 24 }, '{"temperature":1,"temperature":24}'],
    ]);
  });

  it('publishes no event and no text for hostile payloads: bad UTF-8, deep nesting, __proto__, padding', async () => {
    const seen: [LiveEvent, string | undefined][] = [];
    stack.live.subscribe((evs, json) => evs.forEach((e, i) => seen.push([e, json?.[i]])));
    const deep = `${'{"a":'.repeat(10_000)}1${'}'.repeat(10_000)}`;
    for (const payload of [
      Buffer.from([0x7b, 0x22, 0x74, 0x22, 0x3a, 0xff, 0x7d]), // {"t":\xff}
      Buffer.from(deep),
      Buffer.from('{"__proto__":{"temperature":1},"temperature":2}'),
      Buffer.from('{"temperature":{"__proto__":1}}'),
    ]) {
      const out = await stack.service.ingest({ ...msg(''), payload });
      expect(out.ok).toBe(false);
    }
    expect(seen).toEqual([]);
    // Accepted, but padded far beyond its values: stored and published, its text not held.
    const padded = `{"temperature":21${' '.repeat(3000)}}`;
    expect(await stack.service.ingest(msg(padded))).toEqual({ ok: true, readings: 1 });
    expect(seen.map(([e, j]) => [(e as { values: unknown }).values, j])).toEqual([
      [{ temperature: 21 }, undefined],
    ]);
  });

  it('stores component telemetry under component/name and accepts a matching unit', async () => {
    expect(await stack.service.ingest(msg('{"current": 4.2}', { component: 'motor' }))).toEqual({
      ok: true,
      readings: 1,
    });
    expect(await raw('pump-1', 'motor/current')).toEqual([{ ts: 1000, value: 4.2 }]);
    expect(
      await stack.service.ingest(msg('{"temperature": {"value": 20, "unit": "degreeCelsius"}}')),
    ).toEqual({ ok: true, readings: 1 });
    expect(await raw('pump-1', 'temperature')).toEqual([{ ts: 1000, value: 20 }]);
  });

  it.each([
    ['malformed JSON', '{"temperature": }', {}, 'InvalidTelemetry', /Malformed JSON at 1:17/],
    ['unknown twin', '{"temperature": 1}', { twinId: 'nope' }, 'DigitalTwinNotFound', /nope/],
    ['unknown telemetry', '{"humidity": 1}', {}, 'InvalidTelemetry', /'humidity' is not a telemetry/],
    ['wrong type', '{"temperature": "hot"}', {}, 'InvalidTelemetry', /temperature/],
    [
      'wrong unit',
      '{"temperature": {"value": 70, "unit": "degreeFahrenheit"}}',
      {},
      'InvalidTelemetry',
      /degreeFahrenheit/,
    ],
    ['unknown component', '{"current": 1}', { component: 'gearbox' }, 'ComponentNotFound', /gearbox/],
    ['unknown workspace', '{"temperature": 1}', { workspace: 'elsewhere' }, 'NotFound', /elsewhere/],
    ['integer telemetry given a fraction', '{"rpm": 1.5}', {}, 'InvalidTelemetry', /rpm/],
  ] as const)('dead-letters %s with its reason, durably', async (_name, payload, extra, code, reason) => {
    const out = await stack.service.ingest(msg(payload, extra));
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.code).toBe(code);
    expect(out.reason).toMatch(reason);
    const ws = (extra as { workspace?: string }).workspace ?? 'default';
    const [letter] = await stack.deadLetters.list({ workspace: ws, limit: 10 });
    expect(letter).toMatchObject({ code, source: 'mqtt', topic: 't', time: 1000 });
    expect(letter!.payload.toString()).toBe(payload);
    expect(stack.service.stats.snapshot().deadLettersByCode[code]).toBe(1);
    expect(await stack.history.listSeries('default', 'pump-1')).toEqual([]);
  });

  it('rejects the whole message when one reading set is bad, pointing at it', async () => {
    const out = await stack.service.ingest(msg('[{"temperature":1},{"temperature":"x"}]'));
    expect(out.ok).toBe(false);
    const [letter] = await stack.deadLetters.list({ workspace: 'default', limit: 1 });
    expect(letter!.problems?.[0]?.pointer).toBe('/1/temperature');
    expect(await raw('pump-1', 'temperature')).toEqual([]);
  });

  it('dead-letters oversize payloads keeping only the head', async () => {
    const { service } = stack;
    const big = `{"temperature":1,"pad":"${'x'.repeat(300 * 1024)}"}`;
    const out = await service.ingest(msg(big));
    expect(out).toMatchObject({ ok: false, code: 'PayloadTooLarge' });
    expect((await stack.deadLetters.list({ workspace: 'default', limit: 1 }))[0]!.payload.length).toBe(4096);
  });

  it('ingests NDJSON line by line: good lines stored, bad lines dead-lettered with their line number', async () => {
    const body = [
      '{"$dtId":"pump-1","temperature":21}',
      '{"$dtId":"pump-2","$component":"motor","current":3}',
      '{"$dtId":"ghost","temperature":1}',
      'not json',
      '{"$dtId":"pump-3","$ts":"2026-01-01T00:00:00Z","vibration":0.5}',
    ].join('\n');
    const out = await stack.service.ingestBulk(msg(body, { source: 'http-bulk', twinId: undefined }));
    expect(out).toMatchObject({ acceptedLines: 3, readings: 3, deadLettered: 2 });
    expect(out.lines.map((l) => [l.line, l.ok])).toEqual([
      [1, true],
      [2, true],
      [3, false],
      [4, false],
      [5, true],
    ]);
    const letters = await stack.deadLetters.list({ workspace: 'default', limit: 10 });
    expect(letters.map((l) => [l.code, l.payload.toString()]).sort()).toEqual([
      ['DigitalTwinNotFound', '{"$dtId":"ghost","temperature":1}'],
      ['InvalidTelemetry', 'not json'],
    ]);
    expect(letters.every((l) => l.reason.startsWith('line '))).toBe(true);
    expect(await raw('pump-3', 'vibration')).toEqual([
      { ts: Date.parse('2026-01-01T00:00:00Z'), value: 0.5 },
    ]);
    expect(await raw('pump-2', 'motor/current')).toHaveLength(1);
  });

  it('shares one commit between concurrent messages and keeps the latest value by source time', async () => {
    const outs = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        stack.service.ingest(
          msg(`{"$ts":${10_000 - i},"temperature":${i}}`, { twinId: `pump-${(i % 3) + 1}` }),
        ),
      ),
    );
    expect(outs.every((o) => o.ok)).toBe(true);
    expect(
      (await raw('pump-1', 'temperature')).length +
        (await raw('pump-2', 'temperature')).length +
        (await raw('pump-3', 'temperature')).length,
    ).toBe(200);
    expect(stack.graph.getTwin('pump-1')!.telemetry.temperature).toEqual({ value: 0, time: 10_000 });
  });

  it('rejects (and updates nothing) when the store fails', async () => {
    const events: LiveEvent[] = [];
    stack.live.subscribe((evs) => events.push(...evs));
    await stack.history.close();
    await expect(stack.service.ingest(msg('{"temperature": 1}'))).rejects.toMatchObject({
      code: 'StorageError',
    });
    expect(stack.graph.getTwin('pump-1')!.telemetry.temperature).toBeUndefined();
    expect(events).toEqual([]);
    expect(stack.service.stats.storageFailures).toBe(1);
  });

  it('answers every random payload with ok or a durable dead letter, never a throw', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          fc.uint8Array({ maxLength: 120 }).map((b) => Buffer.from(b)),
          fc.jsonValue().map((v) => Buffer.from(JSON.stringify(v))),
        ),
        async (payload) => {
          const before = await stack.deadLetters.count('default');
          const out = await stack.service.ingest({ ...msg(''), payload });
          if (out.ok) expect(out.readings).toBeGreaterThan(0);
          else {
            expect(out.reason.length).toBeGreaterThan(0);
            expect(await stack.deadLetters.count('default')).toBe(before + 1);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('IngestService.ingestAdt (ADT telemetry routes)', () => {
  const letters = () => stack.deadLetters.list({ workspace: 'default', limit: 10 });

  it('stores the values the model takes and keeps the rest as one dead letter; ingest() stays strict on the same payload', async () => {
    const payload = '{"temperature": 20.5, "nope": 1, "rpm": "fast"}';
    const strict = await stack.service.ingest(msg(payload));
    expect(strict.ok).toBe(false);
    expect(await raw('pump-1', 'temperature')).toEqual([]);
    const out = await stack.service.ingestAdt(msg(payload, { source: 'http', receivedAt: 2_000 }));
    expect(out).toEqual({ ok: true, readings: 1, deadLettered: 2 });
    expect(await raw('pump-1', 'temperature')).toEqual([{ ts: 2_000, value: 20.5 }]);
    const [newest] = await letters();
    expect(newest?.source).toBe('http');
    expect(newest?.payload.toString()).toBe(payload);
    expect(newest?.problems?.map((p) => p.pointer).sort()).toEqual(['/nope', '/rpm']);
  });

  it('problems point into the array the JSON string holds, skipping members that were dropped', async () => {
    const body = JSON.stringify(JSON.stringify([5, { temperature: 1 }, { rpm: 'x' }]));
    expect(await stack.service.ingestAdt(msg(body))).toEqual({ ok: true, readings: 1, deadLettered: 2 });
    expect((await letters())[0]?.problems?.map((p) => p.pointer)).toEqual(['/0', '/2/rpm']);
  });

  it('a message marked once is stored once however often it is resent', async () => {
    const m = msg('"{\\"temperature\\": 19}"', { receivedAt: 5_000, once: true });
    for (let i = 0; i < 3; i++) expect(await stack.service.ingestAdt(m)).toEqual({ ok: true, readings: 1 });
    expect(await raw('pump-1', 'temperature')).toEqual([{ ts: 5_000, value: 19 }]);
  });

  it('an unknown twin is refused (DigitalTwinNotFound) even when nothing would be stored', async () => {
    const out = await stack.service.ingestAdt(msg('"not json"', { twinId: 'ghost' }));
    expect(out).toMatchObject({ ok: false, code: 'DigitalTwinNotFound' });
  });
});

describe('IngestService.ingestDerivedMany', () => {
  it('stores the good sets in one append, refuses each bad one with its reason, marks events derived', async () => {
    const events: LiveEvent[] = [];
    stack.live.subscribe((evs) => events.push(...evs));
    const hostile = JSON.parse('{"__proto__": 7, "ok": 1}') as Record<string, number>;
    const r = await stack.service.ingestDerivedMany([
      { workspace: 'default', twinId: 'pump-1', time: 5000, values: { tempEwma: 21.1 } },
      { workspace: 'default', twinId: 'nobody', time: 5000, values: { tempEwma: 1 } },
      { workspace: 'default', twinId: 'pump-2', time: 5000, values: { temperature: 3 } }, // a model name
      { workspace: 'default', twinId: 'pump-2', time: 5000, values: { x: NaN } },
      { workspace: 'default', twinId: 'pump-2', time: NaN, values: { x: 1 } },
      { workspace: 'nowhere', twinId: 'pump-2', time: 5000, values: { x: 1 } },
      { workspace: 'default', twinId: 'pump-3', time: 6000, values: hostile },
    ]);
    expect(r.stored).toBe(3);
    expect(r.refused.map((x) => x.index)).toEqual([1, 2, 3, 4, 5]);
    expect(r.refused.map((x) => x.error.message).join('\n')).toMatch(
      /No twin 'nobody'[\s\S]*name of a content[\s\S]*not finite[\s\S]*no finite time[\s\S]*No twin 'pump-2' in workspace 'nowhere'/,
    );
    expect(await raw('pump-1', 'tempEwma')).toEqual([{ ts: 5000, value: 21.1 }]);
    expect(await raw('pump-3', '__proto__')).toEqual([{ ts: 6000, value: 7 }]);
    expect(Object.getPrototypeOf({})).toBe(Object.prototype); // nothing polluted
    expect(events.filter((e) => e.type === 'telemetry')).toHaveLength(2);
    expect(events.every((e) => (e as { derived?: boolean }).derived === true)).toBe(true);
    expect(stack.service.stats.snapshot()).toMatchObject({ acceptedMessages: 0, derivedReadings: 3 });
  });

  it('ingestDerived throws the reason of a refused set', async () => {
    await expect(stack.service.ingestDerived('default', 'nobody', 1, { a: 1 })).rejects.toThrow(
      /No twin 'nobody'/,
    );
  });
});
