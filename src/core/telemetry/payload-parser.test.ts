import { describe, it, expect } from 'vitest';
import fc from 'fast-check';
import { parseNdjsonPayload, parseTelemetryPayload } from './payload-parser.js';

const ctx = { twinId: 'pump-1', receivedAt: 1_000 };

describe('parseTelemetryPayload', () => {
  it('reads one reading set at receive time', () => {
    const r = parseTelemetryPayload(Buffer.from('{"temperature": 21.5, "vibration": 3.2}'), ctx);
    expect(r).toEqual({
      ok: true,
      readings: [
        {
          twinId: 'pump-1',
          time: 1_000,
          values: { temperature: 21.5, vibration: 3.2 },
          json: '{"temperature": 21.5, "vibration": 3.2}',
        },
      ],
    });
  });

  it("keeps the payload's own text as the values' JSON only when the payload is that one object", () => {
    const one = (text: string | Buffer) => {
      const r = parseTelemetryPayload(text, ctx);
      return r.ok ? r.readings.map((x) => x.json) : r.problems.map((p) => p.code);
    };
    expect(one('{"t":1,"on":true}')).toEqual(['{"t":1,"on":true}']);
    // $ts is kept in the text (the live writer leaves it out); other $ keys are refused anyway.
    expect(one('{"$ts":1790000000000,"t":1}')).toEqual(['{"$ts":1790000000000,"t":1}']);
    expect(one('{"$dtId":"x","t":1}')).toEqual(['payload.reserved']);
    // An array holds several sets; a leading space or BOM in text: not the object alone.
    expect(one('[{"t":1},{"t":2}]')).toEqual([undefined, undefined]);
    expect(one(' {"t":1}')).toEqual([undefined]);
    expect(one('\ufeff{"t":1}')).toEqual([undefined]);
    // A BOM in the bytes is dropped by the UTF-8 decoder: the text is the object.
    expect(one(Buffer.from('\ufeff{"t":1}'))).toEqual(['{"t":1}']);
    // Bounded: a long payload is not kept (the live stream serialises its values instead), nor one
    // much longer than its values (padding), in all or per value.
    const long = `{"t":1,"pad":"${'x'.repeat(5000)}"}`;
    expect(one(long)).toEqual([undefined]);
    expect(one(`{"t":1${' '.repeat(200)}}`)).toEqual([undefined]);
    const many = `{${Array.from({ length: 40 }, (_, i) => `"value_${i}": ${i}.25`).join(', ')}}`;
    expect(one(many)).toEqual([many]);
    expect(one(`{"$ts":1790000000000, "t":1}`)).toEqual(['{"$ts":1790000000000, "t":1}']);
    // Hostile keys are still refused before anything is kept.
    expect(one('{"__proto__":{"t":1}}')).toEqual(['json.key.forbidden']);
  });

  it('takes $ts as RFC 3339 or epoch ms, and many reading sets per message', () => {
    const r = parseTelemetryPayload(
      '[{"$ts":"2026-11-24T10:00:00Z","temperature":21},{"$ts":1790000000000,"temperature":22}]',
      { ...ctx, component: 'motor' },
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.readings.map((x) => [x.time, x.component, x.values.temperature])).toEqual([
      [Date.parse('2026-11-24T10:00:00Z'), 'motor', 21],
      [1790000000000, 'motor', 22],
    ]);
  });

  it('reports malformed JSON with line and column', () => {
    const r = parseTelemetryPayload('{\n  "temperature": ,\n}', ctx);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems[0]).toMatchObject({ code: 'payload.json', line: 2, column: 18 });
    expect(r.problems[0]!.message).toContain('2:18');
  });

  it('rejects bad $ts, unknown $ keys, empty sets, non-objects, invalid UTF-8 — with pointers', () => {
    const bad = parseTelemetryPayload('[{"$ts":"yesterday","t":1},{"$dtId":"x","t":1},{},5]', ctx);
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    expect(bad.problems.map((p) => [p.code, p.pointer])).toEqual([
      ['payload.time', '/0/$ts'],
      ['payload.reserved', '/1/$dtId'],
      ['payload.empty', '/2'],
      ['payload.shape', '/3'],
    ]);
    expect(parseTelemetryPayload('[]', ctx).ok).toBe(false);
    expect(parseTelemetryPayload('"x"', ctx).ok).toBe(false);
    const utf = parseTelemetryPayload(Buffer.from([0x7b, 0xff, 0x7d]), ctx);
    expect(utf.ok ? '' : utf.problems[0]!.code).toBe('payload.encoding');
    // a timestamp without a zone is ambiguous
    expect(parseTelemetryPayload('{"$ts":"2026-11-24T10:00:00","t":1}', ctx).ok).toBe(false);
  });

  it('never throws on random bytes and always answers ok or problems with a code', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const r = parseTelemetryPayload(Buffer.from(bytes), ctx);
        if (r.ok) expect(r.readings.length).toBeGreaterThan(0);
        else expect(r.problems.length > 0 && r.problems.every((p) => p.code && p.message)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  it('never throws on random JSON and accepts exactly the objects with non-$ keys', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        const r = parseTelemetryPayload(JSON.stringify(v), ctx);
        const isSet = (x: unknown) =>
          x !== null &&
          typeof x === 'object' &&
          !Array.isArray(x) &&
          Object.keys(x).length > 0 &&
          Object.keys(x).every((k) => !k.startsWith('$'));
        // __proto__-family keys anywhere make the message invalid (json.key.forbidden)
        const hostile = (x: unknown): boolean =>
          typeof x === 'object' &&
          x !== null &&
          Object.entries(x).some(
            ([k, y]) => ['__proto__', 'constructor', 'prototype'].includes(k) || hostile(y),
          );
        const expected = !hostile(v) && (Array.isArray(v) ? v.length > 0 && v.every(isSet) : isSet(v));
        expect(r.ok).toBe(expected);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('hostile telemetry', () => {
  const hostileKey = fc.constantFrom('__proto__', 'constructor', 'prototype');
  const name = fc.stringMatching(/^[a-z][a-zA-Z0-9]{0,8}$/);

  it('refuses a __proto__ key instead of reading zero values', () => {
    const r = parseTelemetryPayload('{"__proto__":{"temperature":99}}', ctx);
    expect(r).toMatchObject({ ok: false, problems: [{ code: 'json.key.forbidden', pointer: '/__proto__' }] });
  });

  it('property: a hostile key at any depth of a message or an NDJSON line is refused with its pointer', () => {
    fc.assert(
      fc.property(
        fc.array(name, { maxLength: 8 }),
        hostileKey,
        fc.jsonValue({ maxDepth: 2 }),
        (path, key, leaf) => {
          // {"temperature":1,"p0":{"p1":{…{"<hostile>": leaf}}}}, written as the bytes a device sends
          let inner = `{"${key}":${JSON.stringify(leaf)}}`;
          for (let i = path.length - 1; i >= 0; i--) inner = `{"${path[i]}":${inner}}`;
          const text = `{"temperature":1,${inner.slice(1)}`;
          const pointer = `/${[...path, key].join('/')}`;
          const r = parseTelemetryPayload(text, ctx);
          expect(r).toMatchObject({ ok: false, problems: [{ code: 'json.key.forbidden', pointer }] });
          const [line] = parseNdjsonPayload(`\n{"$dtId":"pump-1",${text.slice(1)}\n`, ctx);
          expect(line!.result).toMatchObject({
            ok: false,
            problems: [{ code: 'json.key.forbidden', pointer, line: 2 }],
          });
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses 1e999 as a number out of range and 10k-deep nesting as too deep, not a crash', () => {
    const big = parseTelemetryPayload('{"temperature":1e999}', ctx);
    expect(big).toMatchObject({
      ok: false,
      problems: [{ code: 'json.number.range', pointer: '/temperature' }],
    });
    expect(!big.ok && big.problems[0]!.message).toMatch(/^Number out of range at \/temperature/);
    const deep = parseTelemetryPayload('{"t":' + '['.repeat(10_000) + ']'.repeat(10_000) + '}', ctx);
    expect(deep).toMatchObject({ ok: false, problems: [{ code: 'json.depth' }] });
    const deepBad = parseNdjsonPayload('{"t":' + '['.repeat(10_000), ctx);
    expect(deepBad[0]!.result).toMatchObject({ ok: false, problems: [{ code: 'payload.json', line: 1 }] });
  });
});

describe('parseNdjsonPayload', () => {
  it('gives each line its own outcome, with line numbers on problems', () => {
    const text = [
      '{"$dtId":"pump-1","temperature":21}',
      '',
      '{"$dtId":"pump-2","$component":"motor","$ts":5,"rpm":3}',
      '{"temperature":',
      '{"temperature":1}',
    ].join('\r\n');
    const lines = parseNdjsonPayload(Buffer.from(text), { receivedAt: 9 });
    expect(lines.map((l) => [l.line, l.result.ok])).toEqual([
      [1, true],
      [3, true],
      [4, false],
      [5, false],
    ]);
    const l3 = lines[1]!.result;
    expect(l3.ok && l3.readings[0]).toEqual({
      twinId: 'pump-2',
      component: 'motor',
      time: 5,
      sourceTime: true,
      values: { rpm: 3 },
    });
    const l4 = lines[2]!.result;
    expect(!l4.ok && l4.problems[0]).toMatchObject({ code: 'payload.json', line: 4 });
    const l5 = lines[3]!.result;
    expect(!l5.ok && l5.problems[0]).toMatchObject({ code: 'payload.twinId', line: 5 });
    expect(lines[2]!.text).toBe('{"temperature":');
  });

  it('never throws on random text', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (s) => {
        for (const l of parseNdjsonPayload(s, { receivedAt: 0 })) {
          expect(l.line).toBeGreaterThan(0);
          if (!l.result.ok) expect(l.result.problems.every((p) => p.line === l.line)).toBe(true);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
