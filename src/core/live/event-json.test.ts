import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TelemetryPrefixes, valuesJsonFits } from './event-json.js';
import { bodyOfArrayJson, bodyOfEvents } from './live-channel.js';
import type { LiveDelivered } from './live-filters.js';

const parsedBody = (b: Uint8Array): unknown => JSON.parse(`[${Buffer.from(b).toString('utf8').slice(0, -1)}`);
const reference = (events: readonly unknown[]): unknown =>
  parsedBody(bodyOfArrayJson(JSON.stringify(events)));

const telemetry = (twinId: string, time: number, values: Record<string, number | boolean>) =>
  ({
    type: 'telemetry',
    workspace: 'default',
    twinId,
    modelId: 'dtmi:x:Pump;1',
    time,
    values,
  }) satisfies LiveDelivered;

describe('valuesJsonFits', () => {
  it('accepts a text with one key per value, however it is spelled', () => {
    expect(valuesJsonFits('{"a":1,"b":true}', { a: 1, b: true })).toBe(true);
    expect(valuesJsonFits('{ "a" : 1.50 ,\n "b":\tfalse }', { a: 1.5, b: false })).toBe(true);
    expect(valuesJsonFits('{"\\u0061":1e2}', { a: 100 })).toBe(true);
  });

  it('refuses a text that repeats a key (its first value was never validated)', () => {
    const values = JSON.parse('{"a":"<script>","a":2}') as Record<string, unknown>;
    expect(values).toEqual({ a: 2 });
    expect(valuesJsonFits('{"a":"<script>","a":2}', values)).toBe(false);
    expect(valuesJsonFits('{"a":1,"a":2}', { a: 2 })).toBe(false);
    expect(valuesJsonFits('{"a":1}', { a: 1, b: 2 })).toBe(false);
  });
});

describe('TelemetryPrefixes', () => {
  it('keeps at most maxTwins prefixes and makes a new one when a twin changes model', () => {
    const p = new TelemetryPrefixes(3);
    for (let i = 0; i < 50; i++) {
      p.of({ workspace: 'w', twinId: `t${i}`, modelId: 'm' });
      expect(p.size).toBeLessThanOrEqual(3);
    }
    const a = Buffer.from(p.of({ workspace: 'w', twinId: 'x', modelId: 'm;1' })).toString();
    const b = Buffer.from(p.of({ workspace: 'w', twinId: 'x', modelId: 'm;2' })).toString();
    expect(a).toContain('"modelId":"m;1"');
    expect(b).toContain('"modelId":"m;2"');
  });
});

describe('bodyOfEvents with device texts of the values', () => {
  const name = fc.stringMatching(/^[A-Za-z][A-Za-z0-9_]{0,8}$/);
  const value = fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.boolean());
  /** The device's spelling: the same JSON with spaces, exponents and trailing zeros of its own. */
  const spelled = (values: Record<string, number | boolean>, style: number): string => {
    const parts = Object.entries(values).map(([k, v]) => {
      let n = JSON.stringify(v);
      if (style === 1 && typeof v === 'number' && Number.isSafeInteger(v) && !Object.is(v, -0))
        n = `${v}.000`;
      if (style === 2 && typeof v === 'number') n = v.toExponential();
      return style === 3 ? ` "${k}" :\t${n} ` : `"${k}":${n}`;
    });
    return `{${parts.join(',')}}`;
  };

  it('parses to what serialising every event would, whichever events have a text', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            twinId: fc.string({ maxLength: 12 }),
            time: fc.oneof(fc.nat(), fc.double(), fc.constant(1_765_000_000_000)),
            values: fc.dictionary(name, value, { minKeys: 1, maxKeys: 6 }),
            style: fc.integer({ min: 0, max: 3 }),
            text: fc.boolean(),
            kind: fc.constantFrom('device', 'component', 'derived', 'duplicate'),
          }),
          { maxLength: 30 },
        ),
        fc.integer({ min: 1, max: 400 }),
        (specs, perEvent) => {
          const prefixes = new TelemetryPrefixes(5);
          const events: LiveDelivered[] = [];
          const texts: (string | undefined)[] = [];
          for (const s of specs) {
            const ev: Extract<LiveDelivered, { type: 'telemetry' }> = telemetry(s.twinId, s.time, s.values);
            if (s.kind === 'component') ev.component = 'motor';
            if (s.kind === 'derived') ev.derived = true;
            let text = spelled(s.values, s.style);
            // A text that repeats its first key with another value: must never be sent.
            if (s.kind === 'duplicate') text = text.replace('{', `{"${Object.keys(s.values)[0]}":"evil",`);
            texts.push(s.text ? text : undefined);
            events.push(ev);
          }
          const body = bodyOfEvents(events, perEvent, texts, prefixes);
          expect(parsedBody(body)).toEqual(reference(events));
          expect(Buffer.from(body).toString()).not.toContain('evil');
        },
      ),
      { numRuns: 300 },
    );
  });

  it('writes the prefix, time and text as they are, and grows its buffer for long texts', () => {
    const prefixes = new TelemetryPrefixes();
    const ev = telemetry('pompe-é"1', 1_765_000_000_123, { vibration: 2.5, running: true });
    const body = bodyOfEvents([ev, ev], 1, ['{"vibration":2.50,"running":true}', undefined], prefixes);
    expect(Buffer.from(body).toString()).toBe(
      `{"type":"telemetry","workspace":"default","twinId":"pompe-é\\"1","modelId":"dtmi:x:Pump;1","time":1765000000123,"values":{"vibration":2.50,"running":true}},${JSON.stringify(ev)}]}`,
    );
    const wide = { ...ev, values: { a: 1 } };
    const long = `{"a":1${' '.repeat(3000)}}`;
    expect(parsedBody(bodyOfEvents([wide, wide, wide], 1, [long, long, long], prefixes))).toEqual(
      reference([wide, wide, wide]),
    );
  });
});

describe('the time of a fast telemetry event', () => {
  it('is written with the digits JSON.stringify gives, at every length', () => {
    const prefixes = new TelemetryPrefixes();
    const times = [
      0,
      7,
      10,
      999_999_999,
      1_000_000_000,
      1_000_000_001,
      1_765_000_000_123,
      Number.MAX_SAFE_INTEGER,
    ];
    for (let d = 1; d <= 15; d++) times.push(10 ** d - 1, 10 ** d, 10 ** d + 1);
    const events = times.map((t) => telemetry('p', t, { a: 1 }));
    const body = Buffer.from(
      bodyOfEvents(
        events,
        10,
        events.map(() => '{"a":1}'),
        prefixes,
      ),
    ).toString();
    expect(body).toBe(`${events.map((e) => JSON.stringify(e)).join(',')}]}`);
  });
});
