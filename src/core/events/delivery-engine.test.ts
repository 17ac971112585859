import { describe, expect, it } from 'vitest';
import {
  DeliveryFailure,
  type CloudEvent,
  type EndpointSender,
  type EventOutbox,
  type OutboxDelivery,
  type RouteDeadLetter,
} from '../ports/event-routing.js';
import { backoffDelay } from './delivery-backoff.js';
import { DeliveryEngine, type DeliveryClock, type DeliveryOptions } from './delivery-engine.js';

/** A clock whose time moves only when the test says so. */
class FakeClock implements DeliveryClock {
  t = 1_000_000;
  private timers: { at: number; fn: () => void; id: number }[] = [];
  private nextId = 0;
  now = () => this.t;
  setTimeout = (fn: () => void, ms: number) => {
    const id = this.nextId++;
    this.timers.push({ at: this.t + Math.max(0, ms), fn, id });
    return () => {
      this.timers = this.timers.filter((x) => x.id !== id);
    };
  };
  /** Moves time forward in steps, running due timers and letting promises settle. */
  async run(ms: number, step = 10): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      const due = this.timers.filter((x) => x.at <= this.t).sort((a, b) => a.at - b.at);
      if (due.length) {
        this.timers = this.timers.filter((x) => !due.includes(x));
        for (const d of due) d.fn();
        continue;
      }
      if (this.t >= end) break;
      this.t = Math.min(end, this.t + step);
    }
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

class MemoryOutbox implements EventOutbox {
  rows: OutboxDelivery[] = [];
  dead: RouteDeadLetter[] = [];
  seq = 0;
  add(endpoint: string, twinId: string, n: number, created: number): void {
    this.rows.push({
      seq: ++this.seq,
      endpoint,
      orderKey: twinId,
      created,
      event: { id: `${twinId}#${n}`, type: 't', source: 's', time: created, data: { n }, twinId },
    });
  }
  async pending(after: number, limit: number) {
    await Promise.resolve();
    return this.rows.filter((r) => r.seq > after).slice(0, limit);
  }
  async acknowledge(seqs: readonly number[]) {
    await Promise.resolve();
    this.rows = this.rows.filter((r) => !seqs.includes(r.seq));
  }
  async deadLetter(items: readonly { seq: number; attempts: number; reason: string; at: number }[]) {
    await Promise.resolve();
    for (const it of items) {
      const r = this.rows.find((x) => x.seq === it.seq);
      if (!r) continue;
      this.dead.push({
        id: this.dead.length + 1,
        endpoint: r.endpoint,
        orderKey: r.orderKey,
        event: r.event,
        created: r.created,
        deadAt: it.at,
        attempts: it.attempts,
        reason: it.reason,
      });
      this.rows = this.rows.filter((x) => x !== r);
    }
  }
  async listDeadLetters() {
    return Promise.resolve([...this.dead].reverse());
  }
  async countDeadLetters() {
    return Promise.resolve(this.dead.length);
  }
  async replay() {
    return Promise.resolve(0);
  }
  async purgeDeadLetters() {
    return Promise.resolve(0);
  }
  async backlog() {
    return Promise.resolve(new Map<string, { count: number; oldest: number }>());
  }
}

/** Records what arrives; `fail(event)` says whether a send fails (and how). */
class TestSender implements EndpointSender {
  got: CloudEvent[] = [];
  attempts = 0;
  constructor(private readonly fail: (e: CloudEvent) => DeliveryFailure | undefined = () => undefined) {}
  async send(e: CloudEvent): Promise<void> {
    this.attempts++;
    await Promise.resolve();
    const f = this.fail(e);
    if (f) throw f;
    this.got.push(e);
  }
  async close() {}
}

/** A TestSender that also takes batches of up to `maxBatch` events (all or nothing). */
class BatchSender extends TestSender {
  batches: string[][] = [];
  constructor(
    readonly maxBatch: number,
    private readonly failBatch: (ids: string[]) => DeliveryFailure | undefined = () => undefined,
    fail?: (e: CloudEvent) => DeliveryFailure | undefined,
  ) {
    super(fail);
  }
  async sendBatch(events: readonly CloudEvent[]): Promise<void> {
    const ids = events.map((e) => e.id);
    this.batches.push(ids);
    await Promise.resolve();
    const f = this.failBatch(ids);
    if (f) throw f;
    this.got.push(...events);
  }
}

const OPTS: Partial<DeliveryOptions> = {
  initialBackoffMs: 100,
  maxBackoffMs: 2000,
  ttlMs: 60_000,
  concurrency: 4,
};

function perTwin(events: CloudEvent[]): Map<string, number[]> {
  const m = new Map<string, number[]>();
  for (const e of events) {
    const [twin, n] = e.id.split('#') as [string, string];
    m.set(twin, [...(m.get(twin) ?? []), Number(n)]);
  }
  return m;
}

function setup(sender: TestSender, options: Partial<DeliveryOptions> = OPTS) {
  const clock = new FakeClock();
  const outbox = new MemoryOutbox();
  const engine = new DeliveryEngine({
    outbox,
    sender: (ep) => (ep === 'hook' ? sender : undefined),
    clock,
    random: () => 0.5,
    options,
  });
  return { clock, outbox, engine };
}

describe('DeliveryEngine', () => {
  it('delivers every event once, in commit order per twin, and removes it from the outbox', async () => {
    const sender = new TestSender();
    const { clock, outbox, engine } = setup(sender);
    for (let n = 0; n < 20; n++) for (const t of ['a', 'b', 'c']) outbox.add('hook', t, n, clock.t);
    engine.start();
    await clock.run(100);
    expect(sender.got).toHaveLength(60);
    for (const seq of perTwin(sender.got).values()) expect(seq).toEqual([...Array(20).keys()]);
    expect(outbox.rows).toHaveLength(0);
  });

  it('a twin whose event keeps failing holds back only itself, until that event is dead-lettered', async () => {
    const sender = new TestSender((e) => (e.id === 'bad#0' ? new DeliveryFailure('HTTP 500') : undefined));
    const { clock, outbox, engine } = setup(sender, { ...OPTS, maxAttempts: 3 });
    for (let n = 0; n < 3; n++) {
      outbox.add('hook', 'bad', n, clock.t);
      outbox.add('hook', 'good', n, clock.t);
    }
    engine.start();
    await clock.run(50);
    expect(perTwin(sender.got).get('good')).toEqual([0, 1, 2]);
    expect(perTwin(sender.got).get('bad')).toBeUndefined();
    await clock.run(5000);
    expect(outbox.dead.map((d) => d.event.id)).toEqual(['bad#0']);
    expect(outbox.dead[0]!.attempts).toBe(3);
    expect(outbox.dead[0]!.reason).toMatch(/3 failed attempts: HTTP 500/);
    expect(perTwin(sender.got).get('bad')).toEqual([1, 2]);
  });

  it('rides out an endpoint outage: backs off, probes one send at a time, then delivers everything in order', async () => {
    let down = true;
    const sender = new TestSender(() => (down ? new DeliveryFailure('ECONNREFUSED') : undefined));
    const { clock, outbox, engine } = setup(sender);
    for (let n = 0; n < 10; n++)
      for (const t of ['a', 'b', 'c', 'd', 'e', 'f']) outbox.add('hook', t, n, clock.t);
    engine.start();
    await clock.run(30_000, 50);
    expect(sender.got).toHaveLength(0);
    // Down: at most one probe per backoff period, not one per twin per period.
    expect(sender.attempts).toBeLessThan(40);
    expect(engine.stats().get('hook')).toMatchObject({ down: true, lastError: 'ECONNREFUSED' });
    down = false;
    await clock.run(10_000, 50);
    expect(sender.got).toHaveLength(60);
    for (const seq of perTwin(sender.got).values()) expect(seq).toEqual([...Array(10).keys()]);
    expect(outbox.dead).toHaveLength(0);
    expect(engine.stats().get('hook')!.down).toBe(false);
  });

  it('dead-letters at the first failure after the time-to-live, and at once on a permanent failure', async () => {
    const sender = new TestSender((e) =>
      e.id.startsWith('perm') ? new DeliveryFailure('HTTP 400', true) : new DeliveryFailure('HTTP 503'),
    );
    const { clock, outbox, engine } = setup(sender, { ...OPTS, ttlMs: 5000, downAfterFailures: 1000 });
    outbox.add('hook', 'perm', 0, clock.t);
    outbox.add('hook', 'slow', 0, clock.t);
    engine.start();
    await clock.run(100);
    expect(outbox.dead.map((d) => d.event.id)).toEqual(['perm#0']);
    expect(outbox.dead[0]!.reason).toMatch(/refused by the endpoint: HTTP 400/);
    await clock.run(10_000);
    expect(outbox.dead.map((d) => d.event.id)).toEqual(['perm#0', 'slow#0']);
    expect(outbox.dead[1]!.reason).toMatch(/undelivered 5 s after commit/);
  });

  it('an event for an unknown endpoint is retried, then dead-lettered (never dropped)', async () => {
    const { clock, outbox, engine } = setup(new TestSender(), { ...OPTS, maxAttempts: 2 });
    outbox.add('gone', 'a', 0, clock.t);
    engine.start();
    await clock.run(5000);
    expect(outbox.dead[0]?.reason).toMatch(/no endpoint named 'gone'/);
  });

  it('a new engine on the same outbox sends what the previous one did not acknowledge (at least once)', async () => {
    const sender = new TestSender(() => new DeliveryFailure('down'));
    const { clock, outbox, engine } = setup(sender);
    outbox.add('hook', 'a', 0, clock.t);
    engine.start();
    await clock.run(500);
    await engine.stop();
    expect(outbox.rows).toHaveLength(1);
    const ok = new TestSender();
    const again = new DeliveryEngine({ outbox, sender: () => ok, clock, options: OPTS });
    again.start();
    await clock.run(100);
    expect(ok.got.map((e) => e.id)).toEqual(['a#0']);
    expect(ok.got[0]).toMatchObject({ specversion: '1.0', type: 't', source: 's', data: { n: 0 } });
  });

  it('reads in batches and pauses at maxBuffered (memory stays bounded)', async () => {
    const sender = new TestSender();
    const { clock, outbox, engine } = setup(sender, { ...OPTS, batch: 10, maxBuffered: 30 });
    for (let n = 0; n < 200; n++) outbox.add('hook', `t${n % 7}`, n, clock.t);
    engine.start();
    await clock.run(1000);
    expect(sender.got).toHaveLength(200);
  });
});

describe('backoffDelay', () => {
  it('doubles from the initial delay up to the cap, with half of it jittered', () => {
    const o = { initialMs: 100, maxMs: 1000 };
    expect(backoffDelay(1, o, () => 0)).toBe(50);
    expect(backoffDelay(1, o, () => 1)).toBe(100);
    expect(backoffDelay(3, o, () => 0.5)).toBe(300);
    expect(backoffDelay(50, o, () => 1)).toBe(1000);
    expect(backoffDelay(50, o, () => 0)).toBe(500);
  });
});

describe('DeliveryEngine with batches (an endpoint with maxEventsPerBatch)', () => {
  it('sends the heads of several twins per request, never two events of one twin, order per twin kept', async () => {
    const sender = new BatchSender(10);
    const { clock, outbox, engine } = setup(sender);
    const twins = [...Array(30).keys()].map((i) => `t${i}`);
    for (let n = 0; n < 5; n++) for (const t of twins) outbox.add('hook', t, n, clock.t);
    engine.start();
    await clock.run(200);
    expect(sender.got).toHaveLength(150);
    expect(sender.attempts).toBe(0); // nothing went alone
    for (const ids of sender.batches) {
      expect(ids.length).toBeLessThanOrEqual(10);
      const owners = ids.map((id) => id.split('#')[0]);
      expect(new Set(owners).size).toBe(owners.length);
    }
    expect(sender.batches.length).toBeLessThan(150 / 5); // far fewer requests than events
    for (const seq of perTwin(sender.got).values()) expect(seq).toEqual([0, 1, 2, 3, 4]);
    expect(outbox.rows).toHaveLength(0);
  });

  it('a batch refused outright is tried one by one: only the event the endpoint refuses is dead-lettered', async () => {
    const refuse = (id: string) => (id === 'b#0' ? new DeliveryFailure('HTTP 400', true) : undefined);
    const sender = new BatchSender(
      10,
      (ids) => ids.map(refuse).find((f) => f !== undefined),
      (e) => refuse(e.id),
    );
    const { clock, outbox, engine } = setup(sender);
    for (const t of ['a', 'b', 'c']) for (let n = 0; n < 2; n++) outbox.add('hook', t, n, clock.t);
    engine.start();
    await clock.run(1000);
    expect(outbox.dead.map((d) => d.event.id)).toEqual(['b#0']);
    expect(perTwin(sender.got)).toEqual(
      new Map([
        ['a', [0, 1]],
        ['b', [1]],
        ['c', [0, 1]],
      ]),
    );
    expect(outbox.rows).toHaveLength(0);
  });

  it('a batch that fails (endpoint down) is retried with backoff and every event arrives once, in order', async () => {
    let down = true;
    const sender = new BatchSender(8, () => (down ? new DeliveryFailure('connection refused') : undefined));
    sender.send = async (e: CloudEvent) => {
      sender.attempts++;
      await Promise.resolve();
      if (down) throw new DeliveryFailure('connection refused');
      sender.got.push(e);
    };
    const { clock, outbox, engine } = setup(sender);
    for (let n = 0; n < 3; n++) for (const t of ['a', 'b', 'c', 'd', 'e']) outbox.add('hook', t, n, clock.t);
    engine.start();
    await clock.run(3000);
    expect(sender.got).toHaveLength(0);
    down = false;
    await clock.run(10_000);
    expect(sender.got).toHaveLength(15);
    expect(new Set(sender.got.map((e) => e.id)).size).toBe(15);
    for (const seq of perTwin(sender.got).values()) expect(seq).toEqual([0, 1, 2]);
    expect(outbox.dead).toHaveLength(0);
  });
});
