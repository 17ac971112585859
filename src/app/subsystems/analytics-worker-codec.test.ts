/**
 * The analytics worker's compact messages give back what structured clone gives: the same events
 * in the same order (telemetry compacted, the rest as they were), the same derived and property
 * values, for hostile names and values too (`__proto__`, -0, NaN, ±Infinity, huge strings), across
 * many batches and table resets.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { PropertyWritePolicy } from '../../analytics/analytics-types.js';
import type { LiveEvent } from '../../core/live/live-events.js';
import { telemetryEvent } from '../../core/live/live-test-fixture.js';
import { ItemDecoder, ItemEncoder, OutDecoder, OutEncoder, type OutBatch } from './analytics-worker-codec.js';
import type { WorkerItem } from './analytics-worker-protocol.js';

type Telemetry = Extract<LiveEvent, { type: 'telemetry' }>;

/** Through the encoder, structured clone (as postMessage does, the buffer included) and back. */
function roundTrip(
  batches: WorkerItem[][],
  enc = new ItemEncoder<WorkerItem>(),
  dec = new ItemDecoder<WorkerItem>(),
) {
  const out: WorkerItem[][] = [];
  for (const items of batches) {
    for (const i of items) enc.add(i);
    const b = enc.take();
    if (b === undefined) {
      out.push([]);
      continue;
    }
    const sent = structuredClone(b, { transfer: [b.wire.nums.buffer as ArrayBuffer] });
    out.push(dec.decode(sent.wire, sent.rest));
  }
  return out;
}

/** An object with these own keys (`__proto__` as data, as JSON.parse makes it). */
const own = (pairs: [string, unknown][]): Record<string, unknown> => {
  const o: Record<string, unknown> = {};
  for (const [k, v] of pairs)
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  return o;
};

const tele = (twinId: string, time: number, values: Record<string, unknown>, more: Partial<Telemetry> = {}) =>
  telemetryEvent(twinId, time, values, more) as Telemetry;

describe('ItemEncoder / ItemDecoder', () => {
  it('gives back telemetry and the other items in order, as structured clone does', () => {
    const items: WorkerItem[] = [
      { k: 'model', id: 'dtmi:x:Pump;1', ancestors: [] },
      tele('pump-1', 1000, { vibration: 2.5, running: true, flow: 40 }),
      { type: 'twinCreated', workspace: 'default', twinId: 'pump-2', modelId: 'dtmi:x:Pump;1', time: 5 },
      tele('pump-2', 1001, { vibration: 2.5, running: false, flow: 40 }),
      tele('pump-1', 1002, { status: 'ok', flow: 1 }), // a string: sent whole
      tele('pump-1', 1003, { pos: { x: 1 } }, { component: 'motor' }), // an object: sent whole
      tele('pump-1', 1004, { current: 3 }, { component: 'motor' }),
      tele('pump-1', 1005, { vibrationEwma5min: 2.4 }, { derived: true }),
      tele('pump-1', 1006, {}),
      { k: 'twinDeleted', id: 'pump-2' },
    ];
    const [got] = roundTrip([items]);
    expect(got).toEqual(structuredClone(items));
    // Key order and types kept (booleans stay booleans).
    expect(Object.keys((got?.[1] as Telemetry).values)).toEqual(['vibration', 'running', 'flow']);
    expect((got?.[3] as Telemetry).values.running).toBe(false);
    expect('derived' in (got?.[1] as Telemetry)).toBe(false);
    expect((got?.[7] as Telemetry).derived).toBe(true);
    expect('component' in (got?.[1] as Telemetry)).toBe(false);
  });

  it('keeps hostile names and values exact: __proto__, -0, NaN, ±Infinity, huge strings', () => {
    const huge = 'x'.repeat(1_000_000);
    const values = own([
      ['__proto__', 1],
      ['constructor', 2],
      [huge, -0],
      ['nan', NaN],
      ['inf', Infinity],
      ['ninf', -Infinity],
    ]);
    const items: WorkerItem[] = [
      tele(huge, -0, values, { component: '__proto__' }),
      tele('pump-1', Number.MAX_VALUE, own([['__proto__', true]])),
    ];
    const [got] = roundTrip([items]);
    const a = got?.[0] as Telemetry;
    expect(Object.getPrototypeOf(a.values)).toBe(Object.prototype);
    expect(Object.hasOwn(a.values, '__proto__')).toBe(true);
    expect(a.values.__proto__).toBe(1);
    expect(Object.is(a.values[huge], -0)).toBe(true);
    expect(Number.isNaN(a.values.nan)).toBe(true);
    expect(a.values.inf).toBe(Infinity);
    expect(a.values.ninf).toBe(-Infinity);
    expect(a.twinId).toBe(huge);
    expect(a.component).toBe('__proto__');
    expect(Object.is(a.time, -0)).toBe(true);
    const b = got?.[1] as Telemetry;
    expect(Object.hasOwn(b.values, '__proto__')).toBe(true);
    expect(b.values.__proto__).toBe(true);
    expect(({} as Record<string, unknown>).x).toBeUndefined(); // nothing leaked onto Object.prototype
  });

  it('sends values that are arrays or null, and a derived flag that is not true, whole', () => {
    const items = [
      tele('a', 1, [1, 2] as unknown as Record<string, unknown>),
      tele('a', 2, { v: null }),
      tele('a', 4, { v: 1 }, { derived: false as unknown as true }),
    ];
    expect(roundTrip([items])[0]).toEqual(structuredClone(items));
  });

  it('sends each string once, and starts the tables afresh past their bound (both sides)', () => {
    const enc = new ItemEncoder<WorkerItem>(4, 2);
    const dec = new ItemDecoder<WorkerItem>();
    const batches: WorkerItem[][] = [];
    for (let b = 0; b < 20; b++)
      batches.push([
        tele(`pump-${b}`, b, { [`v${b % 3}`]: b, w: b % 2 === 0 }),
        tele('pump-x', b, { v0: b }),
      ]);
    const got = roundTrip(batches, enc, dec);
    expect(got).toEqual(structuredClone(batches));
    enc.add(tele('pump-1', 1, { v0: 1 }));
    enc.add(tele('pump-1', 2, { v0: 2 }));
    const b = enc.take();
    expect(b?.wire.strings.length).toBeLessThanOrEqual(4);
    expect(enc.take()).toBeUndefined();
  });

  it('round-trips any telemetry (property)', () => {
    const name = fc.oneof(fc.string(), fc.constantFrom('__proto__', 'constructor', 'toString', '0', '1'));
    const value = fc.oneof(fc.double(), fc.boolean(), fc.string(), fc.constant(null), fc.integer());
    const event = fc.record({
      twinId: fc.string(),
      time: fc.double(),
      component: fc.option(fc.string(), { nil: undefined }),
      derived: fc.boolean(),
      values: fc.array(fc.tuple(name, value), { maxLength: 6 }),
    });
    fc.assert(
      fc.property(fc.array(fc.array(event, { maxLength: 8 }), { maxLength: 6 }), (batches) => {
        const items = batches.map((b) =>
          b.map((e) =>
            tele(e.twinId, e.time, own(e.values), {
              ...(e.component !== undefined ? { component: e.component } : {}),
              ...(e.derived ? { derived: true } : {}),
            }),
          ),
        );
        const got = roundTrip(items, new ItemEncoder<WorkerItem>(16, 4));
        expect(got).toEqual(structuredClone(items));
        got.forEach((b, i) =>
          b.forEach((e, j) => {
            const want = (items[i]?.[j] as Telemetry).values;
            const have = (e as Telemetry).values;
            expect(Object.keys(have)).toEqual(Object.keys(want));
            for (const k of Object.keys(want)) expect(Object.is(have[k], want[k])).toBe(true);
          }),
        );
      }),
    );
  });
});

describe('OutEncoder / OutDecoder', () => {
  const decodeAll = (batches: (OutBatch | undefined)[]) => {
    const dec = new OutDecoder();
    const got: unknown[] = [];
    for (const b of batches) {
      if (b === undefined) continue;
      const sent = structuredClone(b, { transfer: [b.wire.nums.buffer as ArrayBuffer] });
      dec.decode(sent, {
        derived: (ws, id, time, values) => got.push(['d', ws, id, time, values]),
        property: (ws, id, time, name, value, policy) => got.push(['p', ws, id, time, name, value, policy]),
      });
    }
    return got;
  };

  it('gives back derived sets and property values in order, policies included', () => {
    const enc = new OutEncoder();
    const policy: PropertyWritePolicy = { everyMs: 60_000, deadband: 0.01, integer: false };
    const other: PropertyWritePolicy = { everyMs: 1000, deadband: 0, integer: true };
    enc.derived('default', 'pump-1', 1000, { hydraulicPower: 1.5, vibrationAnomalyScore: 0.2 });
    enc.property('default', 'pump-1', 1000, 'healthIndex', 0.7, policy);
    enc.property('default', 'pump-2', 1001, 'motor.runHours', -0, other);
    const first = enc.take();
    enc.derived('default', 'pump-2', 1001, own([['__proto__', 3]]) as Record<string, number>);
    enc.property('default', 'pump-1', 1002, '__proto__', 0.5, policy);
    const second = enc.take();
    expect(enc.take()).toBeUndefined();
    expect(second?.policies).toEqual([]); // each policy sent once
    const got = decodeAll([first, second]) as unknown[][];
    expect(got.slice(0, 3)).toEqual([
      ['d', 'default', 'pump-1', 1000, { hydraulicPower: 1.5, vibrationAnomalyScore: 0.2 }],
      ['p', 'default', 'pump-1', 1000, 'healthIndex', 0.7, policy],
      ['p', 'default', 'pump-2', 1001, 'motor.runHours', -0, other],
    ]);
    expect(Object.is(got[2]?.[5], -0)).toBe(true);
    const d = got[3]?.[4] as Record<string, number>;
    expect(Object.hasOwn(d, '__proto__')).toBe(true);
    expect(Object.getPrototypeOf(d)).toBe(Object.prototype);
    expect(got[4]).toEqual(['p', 'default', 'pump-1', 1002, '__proto__', 0.5, policy]);
  });

  it('starts the policy and string tables afresh past their bounds', () => {
    const enc = new OutEncoder(2, 2, 1);
    const batches: (OutBatch | undefined)[] = [];
    const want: unknown[] = [];
    for (let i = 0; i < 10; i++) {
      const policy: PropertyWritePolicy = { everyMs: i, deadband: i / 10, integer: i % 2 === 0 };
      enc.property('ws', `t${i}`, i, `p${i % 3}`, i * 1.5, policy);
      enc.derived('ws', `t${i}`, i, { [`d${i}`]: i });
      want.push(
        ['p', 'ws', `t${i}`, i, `p${i % 3}`, i * 1.5, policy],
        ['d', 'ws', `t${i}`, i, { [`d${i}`]: i }],
      );
      batches.push(enc.take());
    }
    expect(decodeAll(batches)).toEqual(want);
    expect(batches.some((b) => b?.wire.reset)).toBe(true);
    expect(batches.some((b) => b?.policiesReset)).toBe(true);
  });

  it('refuses a batch that refers to what it never sent', () => {
    const enc = new OutEncoder();
    enc.derived('ws', 't', 1, { a: 1 });
    const b = enc.take() as OutBatch;
    const dec = new OutDecoder();
    const sinks = { derived: () => undefined, property: () => undefined };
    expect(() => dec.decode({ ...b, wire: { ...b.wire, strings: [] } }, sinks)).toThrow(/unknown string/);
    expect(() => dec.decode({ ...b, wire: { ...b.wire, nums: b.wire.nums.slice(0, 2) } }, sinks)).toThrow();
  });
});
