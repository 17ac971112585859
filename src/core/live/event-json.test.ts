import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TelemetryPrefixes, TelemetryWriter } from './event-json.js';
import { bodyOfArrayJson, bodyOfEvents } from './live-channel.js';
import type { LiveDelivered } from './live-filters.js';
import { telemetryEvent } from './live-test-fixture.js';

const parsedBody = (b: Uint8Array): unknown => JSON.parse(`[${Buffer.from(b).toString('utf8').slice(0, -1)}`);
const reference = (events: readonly unknown[]): unknown =>
  parsedBody(bodyOfArrayJson(JSON.stringify(events)));
/** The body's text when every event is written from its text (the writer's own bytes). */
const bodyText = (events: LiveDelivered[], texts: (string | undefined)[]): string =>
  Buffer.from(bodyOfEvents(events, 10, texts, new TelemetryWriter())).toString();

const telemetry = (twinId: string, time: number, values: Record<string, number | boolean>) =>
  telemetryEvent(twinId, time, values);

describe('TelemetryWriter.accepts', () => {
  const accepts = (text: string, values: Record<string, number | boolean>, time = 1000) =>
    new TelemetryWriter().accepts(telemetry('p', time, values), text);

  it('takes a text with one key per value, however it is spelled', () => {
    expect(accepts('{"a":1,"b":true}', { a: 1, b: true })).toBe(true);
    expect(accepts('{ "a" : 1.50 ,\n "b":\tfalse }', { a: 1.5, b: false })).toBe(true);
    expect(accepts('{"\\u0061":1e2}', { a: 100 })).toBe(true);
  });

  it('refuses a text that repeats a key (its first value was never validated)', () => {
    const values = JSON.parse('{"a":"<script>","a":2}') as Record<string, number>;
    expect(values).toEqual({ a: 2 });
    expect(accepts('{"a":"<script>","a":2}', values)).toBe(false);
    expect(accepts('{"a":1,"a":2}', { a: 2 })).toBe(false);
    expect(accepts('{"a":1}', { a: 1, b: 2 })).toBe(false);
  });

  it('leaves a plain $ts out, and refuses one spelled with escapes or given twice', () => {
    expect(accepts('{"$ts":"2026-11-24T10:00:00Z","a":1}', { a: 1 })).toBe(true);
    expect(accepts('{"a":1, "$ts" : 1790000000000 }', { a: 1 })).toBe(true);
    expect(accepts('{"\\u0024ts":1790000000000,"a":1}', { a: 1 })).toBe(false);
    expect(accepts('{"$ts":1,"$ts":2,"a":1}', { a: 1 })).toBe(false);
    expect(accepts('{"$ts":1}', {})).toBe(false);
  });

  it('refuses what it cannot write as JSON.stringify orders it: components, derived values, odd times', () => {
    const w = new TelemetryWriter();
    const ev = telemetry('p', 1000, { a: 1 });
    expect(w.accepts({ ...ev, component: 'motor' }, '{"a":1}')).toBe(false);
    expect(w.accepts({ ...ev, derived: true }, '{"a":1}')).toBe(false);
    expect(w.accepts({ ...ev, time: -1 }, '{"a":1}')).toBe(false);
    expect(w.accepts({ ...ev, time: 1.5 }, '{"a":1}')).toBe(false);
    expect(w.accepts({ type: 'twinDeleted', workspace: 'w', twinId: 'p', modelId: 'm', time: 1 }, '{}')).toBe(
      false,
    );
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
  /** The device's spelling: the same JSON with spaces, exponents and trailing zeros of its own, and maybe a $ts. */
  const spelled = (values: Record<string, number | boolean>, style: number, ts: number): string => {
    const parts = Object.entries(values).map(([k, v]) => {
      let n = JSON.stringify(v);
      if (style === 1 && typeof v === 'number' && Number.isSafeInteger(v) && !Object.is(v, -0))
        n = `${v}.000`;
      if (style === 2 && typeof v === 'number') n = v.toExponential();
      return style === 3 ? ` "${k}" :\t${n} ` : `"${k}":${n}`;
    });
    const stamp = [' "$ts" : 1790000000000 ', '"$ts":"2026-11-24T10:00:00.5+01:00"', '"\\u0024ts":1'][ts % 3];
    if (ts > 0 && stamp !== undefined) parts.splice(ts % (parts.length + 1), 0, stamp);
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
            ts: fc.integer({ min: 0, max: 8 }),
            text: fc.boolean(),
            kind: fc.constantFrom('device', 'component', 'derived', 'duplicate'),
          }),
          { maxLength: 30 },
        ),
        fc.integer({ min: 1, max: 400 }),
        (specs, perEvent) => {
          const writer = new TelemetryWriter(5);
          const events: LiveDelivered[] = [];
          const texts: (string | undefined)[] = [];
          for (const s of specs) {
            const ev: Extract<LiveDelivered, { type: 'telemetry' }> = telemetry(s.twinId, s.time, s.values);
            if (s.kind === 'component') ev.component = 'motor';
            if (s.kind === 'derived') ev.derived = true;
            let text = spelled(s.values, s.style, s.ts);
            // A text that repeats its first key with another value: must never be sent.
            if (s.kind === 'duplicate') text = text.replace('{', `{"${Object.keys(s.values)[0]}":"evil",`);
            texts.push(s.text ? text : undefined);
            events.push(ev);
          }
          const body = bodyOfEvents(events, perEvent, texts, writer);
          expect(parsedBody(body)).toEqual(reference(events));
          const written = Buffer.from(body).toString();
          expect(written).not.toContain('evil');
          expect(written).not.toContain('$ts');
          expect(written).not.toContain('u0024ts');
        },
      ),
      { numRuns: 400 },
    );
  });

  it('writes the prefix, time and text as they are, and grows its buffer for long texts', () => {
    const ev = telemetry('pompe-é"1', 1_765_000_000_123, { vibration: 2.5, running: true });
    expect(bodyText([ev, ev], ['{"vibration":2.50,"running":true}', undefined])).toBe(
      `{"type":"telemetry","workspace":"default","twinId":"pompe-é\\"1","modelId":"dtmi:x:Pump;1","time":1765000000123,"values":{"vibration":2.50,"running":true}},${JSON.stringify(ev)}]}`,
    );
    const wide = { ...ev, values: { a: 1 } };
    const long = `{"a":1${' '.repeat(3000)}}`;
    const writer = new TelemetryWriter();
    expect(parsedBody(bodyOfEvents([wide, wide, wide], 1, [long, long, long], writer))).toEqual(
      reference([wide, wide, wide]),
    );
  });

  it('cuts a $ts member first, in the middle or last, with its comma', () => {
    const ev = telemetry('p', 5, { a: 1, b: 2 });
    const values = (text: string) =>
      bodyText([ev], [text])
        .replace(/^.*"values":/, '')
        .slice(0, -3);
    expect(values('{"$ts":5,"a":1,"b":2}')).toBe('{"a":1,"b":2}');
    expect(values('{"a":1, "$ts":"2026-11-24T10:00:00Z" ,"b":2}')).toBe('{"a":1, "b":2}');
    expect(values('{"a":1,"b":2 , "$ts":5e0 }')).toBe('{"a":1,"b":2  }');
  });
});

describe('the time of a fast telemetry event', () => {
  it('is written with the digits JSON.stringify gives, at every length', () => {
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
    expect(
      bodyText(
        events,
        events.map(() => '{"a":1}'),
      ),
    ).toBe(`${events.map((e) => JSON.stringify(e)).join(',')}]}`);
  });
});
