import { describe, it, expect, vi } from 'vitest';
import { LiveEventBus } from './live-events.js';
import type { LiveEvent } from './live-events.js';
import { LiveHub } from './live-hub.js';
import type { LiveQueryMatcher } from './live-hub.js';
import { parseSubscription } from './live-filters.js';
import type { LiveSink } from './live-session.js';
import { TwinloopError } from '../errors/errors.js';

class FakeSink implements LiveSink {
  bufferedAmount = 0;
  frames: unknown[] = [];
  send(frame: string): void {
    this.frames.push(JSON.parse(frame));
  }
  events(sub?: string): { type: string; twinId: string; [k: string]: unknown }[] {
    return this.frames
      .filter(
        (f): f is { sub: string; events: never[] } => typeof f === 'object' && f !== null && 'events' in f,
      )
      .filter((f) => sub === undefined || f.sub === sub)
      .flatMap((f) => f.events);
  }
}

const PUMP = 'dtmi:ex:Pump;1';
const BIG_PUMP = 'dtmi:ex:BigPump;1';
const VALVE = 'dtmi:ex:Valve;1';
const tel = (
  twinId: string,
  values: Record<string, unknown>,
  modelId = PUMP,
  component?: string,
): LiveEvent => ({
  type: 'telemetry',
  workspace: 'w',
  twinId,
  modelId,
  time: Date.now(),
  values,
  ...(component ? { component } : {}),
});
const pc = (twinId: string, path: string, value: unknown, modelId = PUMP): LiveEvent => ({
  type: 'propertyChange',
  workspace: 'w',
  twinId,
  modelId,
  time: Date.now(),
  patch: [{ op: 'replace', path, value }],
});
const life = (type: 'twinCreated' | 'twinDeleted', twinId: string, modelId = PUMP): LiveEvent => ({
  type,
  workspace: 'w',
  twinId,
  modelId,
  time: Date.now(),
});

const parse = (m: Record<string, unknown>) =>
  parseSubscription(m, { defaultWorkspace: 'w', maxTwinIds: 1000, maxQueryLength: 1000 });

function setup(over: Partial<ConstructorParameters<typeof LiveHub>[0]> = {}) {
  const bus = new LiveEventBus();
  const hub = new LiveHub({
    bus,
    isOfModel: (_ws, m, b) => m === b || (m === BIG_PUMP && b === PUMP),
    schedule: () => {}, // the tests drain by hand
    ...over,
  });
  return { bus, hub };
}

describe('LiveHub routing', () => {
  it("sends a device's own text of the values on every route, and never a text that does not fit", () => {
    const { bus, hub } = setup({
      compileQuery: () => ({ members: () => ['p1', 'p2'], matches: (id) => id === 'p1' || id === 'p2' }),
    });
    const sink = new FakeSink();
    const raw: string[] = [];
    sink.send = (frame: string) => {
      raw.push(frame);
      sink.frames.push(JSON.parse(frame));
    };
    const s = hub.openSession(sink);
    s.subscribe(parse({ id: 'ids', twinIds: ['p1', 'p2'], types: ['telemetry'] }));
    s.subscribe(parse({ id: 'model', model: PUMP, types: ['telemetry'] }));
    s.subscribe(parse({ id: 'query', query: 'SELECT * FROM digitaltwins', types: ['telemetry'] }));
    const a = { ...tel('p1', { x: 1.5, on: true }), time: 1000 };
    const b = { ...tel('p2', { x: 2 }), time: 2000 };
    const c = { ...tel('p1', { x: 3 }), time: 3000 };
    // a: the device wrote 1.50 (kept as written); b: a text naming x twice (never sent); c: none.
    bus.publish([a, b, c], ['{"x":1.50,"on":true}', '{"x":"evil","x":2}']);
    hub.drain();
    for (const id of ['ids', 'model', 'query']) expect(sink.events(id)).toEqual([a, b, c]);
    // Once per route: each of the three channels wrote the device's text.
    expect(raw.join('\n').split('"values":{"x":1.50,"on":true}')).toHaveLength(4);
    expect(raw.join('\n')).not.toContain('evil');
  });

  it('delivers by twin ids, only the asked types, batched per publish', () => {
    const { bus, hub } = setup();
    const sink = new FakeSink();
    const s = hub.openSession(sink);
    s.subscribe(parse({ id: 'a', twinIds: ['p1'], types: ['telemetry'] }));
    bus.publish([tel('p1', { x: 1 }), tel('p2', { x: 2 }), pc('p1', '/x', 1), tel('p1', { x: 3 })]);
    hub.drain();
    expect(sink.frames).toHaveLength(1);
    expect(sink.events('a').map((e) => e['values'])).toEqual([{ x: 1 }, { x: 3 }]);
  });

  it('delivers by model, with inheritance unless exact', () => {
    const { bus, hub } = setup();
    const sink = new FakeSink();
    const s = hub.openSession(sink);
    s.subscribe(parse({ id: 'any', model: PUMP }));
    s.subscribe(parse({ id: 'exact', model: PUMP, exact: true }));
    bus.publish([tel('p1', { x: 1 }), tel('b1', { x: 1 }, BIG_PUMP), tel('v1', { x: 1 }, VALVE)]);
    hub.drain();
    expect(sink.events('any').map((e) => e.twinId)).toEqual(['p1', 'b1']);
    expect(sink.events('exact').map((e) => e.twinId)).toEqual(['p1']);
  });

  it('ignores other workspaces and stops after unsubscribe', () => {
    const { bus, hub } = setup();
    const sink = new FakeSink();
    const s = hub.openSession(sink);
    s.subscribe(parse({ id: 'a', twinIds: ['p1'] }));
    bus.publish([{ ...tel('p1', { x: 1 }), workspace: 'other' }]);
    hub.drain();
    expect(sink.frames).toHaveLength(0);
    expect(s.unsubscribe('a')).toBe(true);
    expect(s.unsubscribe('a')).toBe(false);
    bus.publish([tel('p1', { x: 1 })]);
    hub.drain();
    expect(sink.frames).toHaveLength(0);
    expect(hub.stats().subscriptions).toBe(0);
  });

  it('refuses duplicate ids, too many subscriptions and queries without a compiler', () => {
    const { hub } = setup({ maxSubscriptionsPerSession: 2 });
    const s = hub.openSession(new FakeSink());
    s.subscribe(parse({ id: 'a', twinIds: ['p1'] }));
    expect(() => s.subscribe(parse({ id: 'a', twinIds: ['p1'] }))).toThrow(
      expect.objectContaining({ code: 'Conflict' }),
    );
    s.subscribe(parse({ id: 'b', twinIds: ['p1'] }));
    expect(() => s.subscribe(parse({ id: 'c', twinIds: ['p1'] }))).toThrow(
      expect.objectContaining({ code: 'TooManyRequests' }),
    );
    const s2 = hub.openSession(new FakeSink());
    expect(() => s2.subscribe(parse({ id: 'q', query: 'SELECT T FROM DIGITALTWINS T' }))).toThrow(
      TwinloopError,
    );
  });

  it('serialises an event once for every session that receives it unchanged', () => {
    const { bus, hub } = setup();
    const sinks = [new FakeSink(), new FakeSink(), new FakeSink()];
    for (const k of sinks) hub.openSession(k).subscribe(parse({ id: 'a', model: PUMP }));
    const ev = tel('p1', { x: 1 });
    bus.publish([ev]);
    const spy = vi.spyOn(JSON, 'stringify');
    hub.drain();
    // Serialised (and encoded) once, in its chunk, whatever the number of sessions.
    const calls = spy.mock.results.filter(
      (r) => typeof r.value === 'string' && r.value.includes('"twinId":"p1"'),
    ).length;
    spy.mockRestore();
    expect(calls).toBe(1);
    for (const k of sinks) expect(k.events('a')).toHaveLength(1);
  });
});

describe('LiveHub query subscriptions', () => {
  // A tiny "graph": twin -> temperature property; the query is "temperature > 50".
  function queryWorld() {
    const temps = new Map<string, number>([
      ['p1', 60],
      ['p2', 10],
    ]);
    let evaluations = 0;
    const compileQuery = (_ws: string, q: string): LiveQueryMatcher => {
      if (!q.includes('WHERE'))
        throw new TwinloopError('SqlQueryError', 'expected WHERE at 1:30', {
          problems: [{ code: 'query.syntax', message: 'x', line: 1, column: 30 }],
        });
      return {
        members: () => [...temps].filter(([, t]) => t > 50).map(([id]) => id),
        matches: (id) => {
          evaluations++;
          return (temps.get(id) ?? -Infinity) > 50;
        },
      };
    };
    return { temps, compileQuery, evaluations: () => evaluations };
  }

  it('tracks membership: telemetry of members only, enter/leave on property changes, delete', () => {
    const w = queryWorld();
    const { bus, hub } = setup({ compileQuery: w.compileQuery });
    const sink = new FakeSink();
    const s = hub.openSession(sink);
    expect(
      s.subscribe(parse({ id: 'q', query: 'SELECT T FROM DIGITALTWINS T WHERE T.temperature > 50' }))
        .memberCount,
    ).toBe(1);

    bus.publish([tel('p1', { a: 1 }), tel('p2', { a: 2 })]);
    hub.drain();
    expect(sink.events('q').map((e) => e.twinId)).toEqual(['p1']);
    expect(w.evaluations()).toBe(0); // telemetry does not re-evaluate the WHERE

    sink.frames = [];
    w.temps.set('p2', 70);
    w.temps.set('p1', 5);
    bus.publish([pc('p2', '/temperature', 70), pc('p1', '/temperature', 5)]);
    hub.drain();
    expect(sink.events('q').map((e) => [e.type, e.twinId, e['member']])).toEqual([
      ['membership', 'p2', true],
      ['propertyChange', 'p2', undefined],
      ['propertyChange', 'p1', undefined],
      ['membership', 'p1', false],
    ]);
    expect(w.evaluations()).toBe(2); // only the changed twins

    sink.frames = [];
    w.temps.delete('p2');
    bus.publish([tel('p1', { a: 3 }), life('twinDeleted', 'p2'), life('twinDeleted', 'p1')]);
    hub.drain();
    expect(sink.events('q').map((e) => [e.type, e.twinId])).toEqual([
      ['twinDeleted', 'p2'],
      ['membership', 'p2'],
    ]);
  });

  it('passes the query error (with line and column) to the caller', () => {
    const w = queryWorld();
    const { hub } = setup({ compileQuery: w.compileQuery });
    const s = hub.openSession(new FakeSink());
    try {
      s.subscribe(parse({ id: 'q', query: 'SELECT T FROM DIGITALTWINS T' }));
      expect.unreachable();
    } catch (e) {
      expect((e as TwinloopError).code).toBe('SqlQueryError');
      expect((e as TwinloopError).problems[0]).toMatchObject({ line: 1, column: 30 });
    }
  });
});

describe('LiveHub slow subscribers', () => {
  it('publish stays O(1): the listener defers routing; a stalled subscriber costs nothing per event until its channel is full, then catches up with the latest per twin+component', () => {
    const { bus, hub } = setup({ limits: { highWaterBytes: 1000, maxChannelBytes: 0 } });
    const slow = new FakeSink();
    const fast = new FakeSink();
    const slowSession = hub.openSession(slow);
    slowSession.subscribe(parse({ id: 's', model: PUMP }));
    hub.openSession(fast).subscribe(parse({ id: 'f', twinIds: ['p0'] }));
    slow.bufferedAmount = 10_000; // the socket is not draining

    const N = 20_000;
    const t0 = performance.now();
    for (let i = 0; i < N; i++)
      bus.publish([tel(`p${i % 10}`, { x: i, [`k${i % 3}`]: i }, PUMP, i % 7 ? 'c' : undefined)]);
    const publishMs = performance.now() - t0;
    expect(hub.stats().queued).toBe(0); // nothing routed during publish
    expect(publishMs).toBeLessThan(1000); // generous on a shared machine: 20k pushes onto an array

    hub.drain(true);
    // The channel keeps no unread bytes (bound 0): 10 twins x 2 components are held for the slow one.
    expect(hub.stats()).toMatchObject({ queued: 20, coalesced: N, dropped: 0 });
    expect(slowSession.counters.coalesced).toBe(N);
    expect(slow.frames).toHaveLength(0);
    expect(fast.events('f')).toHaveLength(N / 10); // the fast one got every event of p0, uncoalesced

    slow.bufferedAmount = 0;
    slowSession.flush();
    expect(slow.frames[0]).toEqual({ type: 'dropped', sub: 's', count: N, coalesced: N, overflowed: 0 });
    const got = slow.events('s');
    expect(got).toHaveLength(20);
    // The merged reading of p3 without component holds the last x of that key and all three k fields.
    const lastI = Math.max(
      ...Array.from({ length: N }, (_, i) => i).filter((i) => i % 10 === 3 && i % 7 === 0),
    );
    const p3 = got.find((e) => e.twinId === 'p3' && e['component'] === undefined)!;
    expect((p3['values'] as Record<string, number>)['x']).toBe(lastI);
    expect(Object.keys(p3['values'] as object).sort()).toEqual(['k0', 'k1', 'k2', 'x']);
  });

  it('keeps what a stalled subscriber has not read, uncoalesced, while its channel is under its byte bound', () => {
    const { bus, hub } = setup({ limits: { highWaterBytes: 1000 } });
    const sink = new FakeSink();
    const s = hub.openSession(sink);
    s.subscribe(parse({ id: 's', twinIds: ['p1'] }));
    sink.bufferedAmount = 5000;
    for (let i = 0; i < 5; i++) {
      bus.publish([tel('p1', { x: i })]);
      hub.drain();
    }
    expect(s.queued).toBe(5);
    sink.bufferedAmount = 0;
    s.flush();
    expect(sink.frames).toHaveLength(1); // one frame for the five drains
    expect(sink.events('s').map((e) => e['values'])).toEqual([0, 1, 2, 3, 4].map((x) => ({ x })));
  });

  it('a drained subscriber gets a dropped notice then the latest values', () => {
    const { bus, hub } = setup({ limits: { highWaterBytes: 1000, maxChannelBytes: 0 } });
    const sink = new FakeSink();
    const s = hub.openSession(sink);
    s.subscribe(parse({ id: 's', twinIds: ['p1', 'p2'] }));
    sink.bufferedAmount = 5000;
    bus.publish([tel('p1', { x: 1, y: 1 })]);
    bus.publish([tel('p1', { x: 2 }), tel('p2', { x: 9 })]);
    bus.publish([tel('p1', { x: 3 }), pc('p1', '/a', 1), pc('p1', '/a', 2)]);
    hub.drain();
    expect(sink.frames).toHaveLength(0);
    expect(s.counters.coalesced).toBe(6);
    sink.bufferedAmount = 0;
    s.flush();
    expect(sink.frames[0]).toEqual({ type: 'dropped', sub: 's', count: 6, coalesced: 6, overflowed: 0 });
    expect(sink.events('s').map((e) => [e.type, e.twinId, e['values'] ?? e['patch']])).toEqual([
      ['telemetry', 'p1', { x: 3, y: 1 }],
      ['telemetry', 'p2', { x: 9 }],
      ['propertyChange', 'p1', [{ op: 'replace', path: '/a', value: 2 }]],
    ]);
    expect(s.queued).toBe(0);
  });

  it('bounds the catch-up: overflowing updates and lifecycle events are counted as dropped', () => {
    const { bus, hub } = setup({
      limits: { maxQueue: 5, lifecycleReserve: 2, highWaterBytes: 1000, maxChannelBytes: 0 },
    });
    const sink = new FakeSink();
    const s = hub.openSession(sink);
    s.subscribe(parse({ id: 's', model: PUMP }));
    sink.bufferedAmount = 5000;
    for (let i = 0; i < 8; i++) bus.publish([tel(`p${i}`, { x: i })]); // 5 kept, 3 dropped
    for (let i = 0; i < 4; i++) bus.publish([life('twinCreated', `n${i}`)]); // 2 kept in the reserve, 2 dropped
    bus.publish([tel('p0', { x: 100 })]); // merges into p0 although the catch-up is full
    hub.drain();
    expect(s.queued).toBe(7);
    expect(s.counters).toMatchObject({ dropped: 5, coalesced: 8, delivered: 0 });
    expect(hub.stats()).toMatchObject({ dropped: 5, coalesced: 8, behindSessions: 1 });
    sink.bufferedAmount = 0;
    s.flush();
    expect(sink.frames[0]).toEqual({ type: 'dropped', sub: 's', count: 13, coalesced: 8, overflowed: 5 });
    expect(sink.events('s').map((e) => e.twinId)).toEqual(['p0', 'p1', 'p2', 'p3', 'p4', 'n0', 'n1']);
    expect(sink.events('s')[0]!['values']).toEqual({ x: 100 });
  });

  it('does not merge an update across a lifecycle event of the same twin', () => {
    const { bus, hub } = setup({ limits: { highWaterBytes: 1000, maxChannelBytes: 0 } });
    const sink = new FakeSink();
    const s = hub.openSession(sink);
    s.subscribe(parse({ id: 's', twinIds: ['p1'] }));
    sink.bufferedAmount = 5000;
    bus.publish([
      tel('p1', { x: 1 }),
      life('twinDeleted', 'p1'),
      life('twinCreated', 'p1'),
      tel('p1', { x: 2 }),
      tel('p1', { x: 3 }),
    ]);
    hub.drain();
    sink.bufferedAmount = 0;
    s.flush();
    expect(sink.events('s').map((e) => [e.type, e['values']])).toEqual([
      ['telemetry', { x: 1 }],
      ['twinDeleted', undefined],
      ['twinCreated', undefined],
      ['telemetry', { x: 3 }],
    ]);
  });

  it('a lagging reader never gets a value older than one it already has (catch-up folds every chunk while anyone lags)', () => {
    const { bus, hub } = setup({ limits: { highWaterBytes: 1000, maxChannelBytes: 150 } });
    const a = new FakeSink();
    const b = new FakeSink();
    const sa = hub.openSession(a);
    const sb = hub.openSession(b);
    sa.subscribe(parse({ id: 's', twinIds: ['p1'] }));
    sb.subscribe(parse({ id: 's', twinIds: ['p1'] }));
    a.bufferedAmount = 5000; // a stalls first
    const step = (values: Record<string, unknown>) => {
      bus.publish([tel('p1', values)]);
      hub.drain();
    };
    step({ x: 1, y: 1 });
    step({ x: 2 });
    step({ x: 3 }); // a lags: its catch-up starts here
    step({ y: 2 }); // b reads it
    b.bufferedAmount = 5000; // now b stalls too
    for (let i = 4; i < 10; i++) step({ x: i });
    b.bufferedAmount = 0;
    a.bufferedAmount = 0;
    sb.flush();
    sa.flush();
    const latest = (sink: FakeSink) =>
      Object.assign({}, ...sink.events('s').map((e) => e['values'] as Record<string, unknown>));
    expect(latest(b)).toEqual({ x: 9, y: 2 });
    expect(latest(a)).toEqual({ x: 9, y: 2 });
    expect(b.frames.some((f) => (f as { type?: string }).type === 'dropped')).toBe(true);
  });

  it('subscriptions asking for the same thing share one channel: routed and serialised once for all', () => {
    const { bus, hub } = setup();
    const sinks = Array.from({ length: 20 }, () => new FakeSink());
    sinks.forEach((k, i) => hub.openSession(k).subscribe(parse({ id: `all-${i}`, model: PUMP })));
    hub.openSession(new FakeSink()).subscribe(parse({ id: 'other', model: PUMP, exact: true }));
    expect(hub.stats()).toMatchObject({ subscriptions: 21, channels: 2 });
    bus.publish([tel('p1', { x: 1 }), tel('p2', { x: 2 })]);
    hub.drain();
    sinks.forEach((k, i) => expect(k.events(`all-${i}`).map((e) => e.twinId)).toEqual(['p1', 'p2']));
  });

  it('paces drains: events published within one frame interval go out in one frame', () => {
    let now = 0;
    const pending: { fn: () => void; at: number }[] = [];
    const { bus, hub } = setup({
      clock: () => now,
      frameIntervalMs: 10,
      schedule: (fn, delayMs) => pending.push({ fn, at: now + delayMs }),
    });
    const sink = new FakeSink();
    hub.openSession(sink).subscribe(parse({ id: 's', twinIds: ['p1'] }));
    const run = () => {
      for (const p of pending.splice(0)) {
        now = Math.max(now, p.at);
        p.fn();
      }
    };
    bus.publish([tel('p1', { x: 1 })]);
    run(); // first drain at once
    bus.publish([tel('p1', { x: 2 })]);
    bus.publish([tel('p1', { x: 3 })]);
    expect(pending).toHaveLength(1);
    expect(pending[0]!.at).toBe(10); // not before the interval has passed
    run();
    expect(sink.frames.map((f) => (f as { events: unknown[] }).events.length)).toEqual([1, 2]);
  });

  it('bounds the inbox: batches beyond it are not kept, and every subscriber is told what it lost', () => {
    const { bus, hub } = setup({ maxInboxEvents: 10 });
    const sinks = [new FakeSink(), new FakeSink()];
    sinks.forEach((k) => hub.openSession(k).subscribe(parse({ id: 'a', model: PUMP })));
    for (let i = 0; i < 14; i++) bus.publish([tel(`p${i}`, { x: i })]); // 10 kept, 4 counted
    hub.drain(true);
    for (const k of sinks) {
      expect(k.frames[0]).toEqual({ type: 'dropped', sub: 'a', count: 4, coalesced: 0, overflowed: 4 });
      expect(k.events('a')).toHaveLength(10);
    }
    expect(hub.stats()).toMatchObject({ dropped: 8, delivered: 20 });
  });

  it('bounds what all channels keep together: the largest fold first', () => {
    const { bus, hub } = setup({
      limits: { highWaterBytes: 1000, maxChannelBytes: 1 << 20 },
      maxTotalChannelBytes: 3000,
    });
    const sinks = [new FakeSink(), new FakeSink(), new FakeSink()];
    const sessions = sinks.map((k) => hub.openSession(k));
    sessions.forEach((s, i) => s.subscribe(parse({ id: 's', twinIds: [`p${i}`] })));
    sinks.forEach((k) => (k.bufferedAmount = 5000)); // nobody reads
    for (let round = 0; round < 30; round++) {
      bus.publish([0, 1, 2].map((i) => tel(`p${i}`, { x: round, pad: 'z'.repeat(40) })));
      hub.drain(true);
      expect(hub.stats().channelBytes).toBeLessThanOrEqual(3000);
    }
    expect(hub.stats().channels).toBe(3);
    sinks.forEach((k) => (k.bufferedAmount = 0));
    sessions.forEach((s) => s.flush());
    for (const [i, k] of sinks.entries()) {
      expect(k.frames[0]).toMatchObject({ type: 'dropped', sub: 's', overflowed: 0 });
      const xs = k.events('s').map((e) => (e['values'] as { x: number }).x);
      expect(xs.at(-1)).toBe(29); // the latest value arrives
      expect(k.events('s').every((e) => e.twinId === `p${i}`)).toBe(true);
    }
  });

  it('a lagging reader catches up only once its transport has mostly drained (no lag-resume flapping)', () => {
    const { bus, hub } = setup({ limits: { highWaterBytes: 1000, maxChannelBytes: 0 } });
    const sink = new FakeSink();
    const s = hub.openSession(sink);
    s.subscribe(parse({ id: 's', twinIds: ['p1'] }));
    sink.bufferedAmount = 5000;
    bus.publish([tel('p1', { x: 1 })]);
    hub.drain();
    sink.bufferedAmount = 600; // below the mark, but not drained
    s.flush();
    expect(sink.frames).toHaveLength(0);
    sink.bufferedAmount = 200;
    s.flush();
    expect(sink.frames[0]).toMatchObject({ type: 'dropped', sub: 's', count: 1 });
  });

  it('makes at most one catch-up snapshot per channel per interval: laggers in between wait, then share it', () => {
    let now = 0;
    const { bus, hub } = setup({
      clock: () => now,
      limits: { highWaterBytes: 1000, maxChannelBytes: 0, catchUpIntervalMs: 100 },
    });
    const sinks = [new FakeSink(), new FakeSink(), new FakeSink()];
    const sessions = sinks.map((k) => hub.openSession(k));
    sessions.forEach((x, i) => x.subscribe(parse({ id: `s${i}`, model: PUMP })));
    const stringifySpy = vi.spyOn(JSON, 'stringify');
    sinks.forEach((k) => (k.bufferedAmount = 5000));
    bus.publish([tel('p1', { x: 1 }), tel('p2', { x: 1 })]);
    hub.drain();
    // Reader 0 drains first: it gets a snapshot at once.
    (sinks[0] as FakeSink).bufferedAmount = 0;
    (sessions[0] as (typeof sessions)[number]).flush();
    expect((sinks[0] as FakeSink).events('s0').map((e) => e['values'])).toEqual([{ x: 1 }, { x: 1 }]);
    // More is folded; readers 1 and 2 drain 30 ms later: within the interval, so they wait.
    now = 30;
    bus.publish([tel('p1', { x: 2 })]);
    hub.drain();
    (sinks[1] as FakeSink).bufferedAmount = 0;
    (sinks[2] as FakeSink).bufferedAmount = 0;
    sessions[1]?.flush();
    sessions[2]?.flush();
    expect((sinks[1] as FakeSink).frames).toHaveLength(0);
    expect((sinks[2] as FakeSink).frames).toHaveLength(0);
    expect(hub.stats().queued).toBeGreaterThan(0);
    // Once the interval has passed both get the same, current snapshot: serialised once.
    now = 100;
    stringifySpy.mockClear();
    sessions[1]?.flush();
    sessions[2]?.flush();
    const snapshots = stringifySpy.mock.results.filter(
      (r) => typeof r.value === 'string' && r.value.includes('"twinId"'),
    );
    stringifySpy.mockRestore();
    expect(snapshots).toHaveLength(1);
    for (const [i, k] of [sinks[1], sinks[2]].entries()) {
      expect(k?.frames[0]).toMatchObject({ type: 'dropped', sub: `s${i + 1}`, count: 3, coalesced: 3 });
      expect(k?.events().map((e) => [e.twinId, e['values']])).toEqual([
        ['p1', { x: 2 }],
        ['p2', { x: 1 }],
      ]);
    }
    expect(hub.stats().catchUps).toBe(3);
  });

  it('backs off a reader that lags again right after each catch-up (doubling, capped); one that kept up starts over', () => {
    let now = 0;
    const { bus, hub } = setup({
      clock: () => now,
      limits: { highWaterBytes: 1000, maxChannelBytes: 0, catchUpIntervalMs: 100, maxCatchUpIntervalMs: 400 },
    });
    const sink = new FakeSink();
    const session = hub.openSession(sink);
    session.subscribe(parse({ id: 's', model: PUMP }));
    const catchUps = (): number =>
      sink.frames.filter((f) => (f as { type?: string }).type === 'dropped').length;
    /** The reader falls behind at time t: an event arrives while its socket is full. */
    const lagAt = (t: number, x: number): void => {
      now = t;
      sink.bufferedAmount = 5000;
      bus.publish([tel('p1', { x })]);
      hub.drain();
    };
    /** Its socket drains at time t: it takes a catch-up if it may. */
    const drainAt = (t: number): void => {
      now = t;
      sink.bufferedAmount = 0;
      session.flush();
    };

    lagAt(0, 1);
    drainAt(0);
    expect(catchUps()).toBe(1); // the first catch-up at once
    // Lags again 10 ms after it: its next waits 200 ms, not 100.
    lagAt(10, 2);
    drainAt(150);
    expect(catchUps()).toBe(1);
    drainAt(200);
    expect(catchUps()).toBe(2);
    // Again: 400 ms.
    lagAt(210, 3);
    drainAt(500);
    expect(catchUps()).toBe(2);
    drainAt(600);
    expect(catchUps()).toBe(3);
    // Again: still 400 (the maximum), not 800.
    lagAt(610, 4);
    drainAt(999);
    expect(catchUps()).toBe(3);
    drainAt(1000);
    expect(catchUps()).toBe(4);
    expect(sink.events('s').at(-1)?.['values']).toEqual({ x: 4 }); // the latest values, nothing lost
    // It keeps up for a while: every event reaches it as it comes, at once.
    now = 1100;
    bus.publish([tel('p1', { x: 5 })]);
    hub.drain();
    expect(sink.events('s').at(-1)?.['values']).toEqual({ x: 5 });
    // Then lags once more, long after its last catch-up: back to the base interval, so it catches up
    // as soon as it drains, and lagging again right after costs it 200 ms, not 800.
    lagAt(2000, 6);
    drainAt(2000);
    expect(catchUps()).toBe(5);
    expect(sink.events('s').at(-1)?.['values']).toEqual({ x: 6 });
    lagAt(2010, 7);
    drainAt(2199);
    expect(catchUps()).toBe(5);
    drainAt(2200);
    expect(catchUps()).toBe(6);
  });

  it('joins several unread chunks into one frame body (events in order, valid JSON)', () => {
    const { bus, hub } = setup({ limits: { highWaterBytes: 1000 } });
    const sink = new FakeSink();
    hub.openSession(sink).subscribe(parse({ id: 'a', model: PUMP }));
    sink.bufferedAmount = 5000;
    for (let i = 0; i < 3; i++) {
      bus.publish([tel('p1', { x: i }), tel('p2', { y: 'é€😀' })]);
      hub.drain();
    }
    sink.bufferedAmount = 0;
    hub.drain();
    bus.publish([tel('p3', { z: 1 })]);
    hub.drain();
    expect(sink.frames).toHaveLength(1);
    expect(sink.events('a').map((e) => [e.twinId, e['values']])).toEqual([
      ['p1', { x: 0 }],
      ['p2', { y: 'é€😀' }],
      ['p1', { x: 1 }],
      ['p2', { y: 'é€😀' }],
      ['p1', { x: 2 }],
      ['p2', { y: 'é€😀' }],
      ['p3', { z: 1 }],
    ]);
  });

  it('retries a stalled session on its own once the transport drains', async () => {
    const { bus, hub } = setup({ limits: { highWaterBytes: 1000 }, retryMs: 5 });
    const sink = new FakeSink();
    hub.openSession(sink).subscribe(parse({ id: 's', twinIds: ['p1'] }));
    sink.bufferedAmount = 5000;
    bus.publish([tel('p1', { x: 1 })]);
    hub.drain();
    expect(sink.frames).toHaveLength(0);
    sink.bufferedAmount = 0;
    await new Promise((r) => setTimeout(r, 50));
    expect(sink.events('s')).toHaveLength(1);
    hub.close();
    expect(bus.listenerCount).toBe(0);
  });
});
