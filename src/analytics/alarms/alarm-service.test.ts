// The alarm service on real SQLite storage: lifecycle, coalesced repeats, ordering, errors, restart.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { alarmChanged, repeatAlarm, type AlarmEvent } from '../../core/alarms/alarm.js';
import type { AlarmStore } from '../../core/ports/alarm-store.js';
import { tempStorage } from '../../adapters/sqlite/sqlite-test-fixture.js';
import type { AlarmRaise } from '../analytics-types.js';
import { AlarmService, MAX_ALARM_TEXT, type AlarmServiceOptions } from './alarm-service.js';

const raise = (over: Partial<AlarmRaise> = {}): AlarmRaise => ({
  workspace: 'default',
  twinId: 'pump-1',
  ruleId: 'vib',
  ruleVersion: 1,
  severity: 'major',
  message: 'vibration 7.9 above 7.1',
  time: 1_000,
  value: 7.9,
  ...over,
});

/** The store, with writes that can be held at a gate (to make another node's write come first). */
function gated(base: AlarmStore) {
  let gate: Promise<void> | undefined;
  let open: (() => void) | undefined;
  let arrived: (() => void) | undefined;
  const g = {
    writes: 0,
    /** Holds the next writes; resolves when one arrives at the gate. */
    hold(): Promise<void> {
      gate = new Promise((r) => (open = r));
      return new Promise((r) => (arrived = r));
    },
    release(): void {
      gate = undefined;
      open?.();
    },
    store: {
      get: (ws, id) => base.get(ws, id),
      open: (ws, twin, rule) => base.open(ws, twin, rule),
      list: (q) => base.list(q),
      countByState: (ws) => base.countByState(ws),
      pruneCleared: (before) => base.pruneCleared(before),
      modify: (reads, change) => base.modify(reads, change),
      async write(changes, rows) {
        g.writes++;
        if (gate) {
          arrived?.();
          await gate;
        }
        return base.write(changes, rows);
      },
    } satisfies AlarmStore,
  };
  return g;
}

async function rejection(p: Promise<unknown>): Promise<{ code?: string; innerCode?: string }> {
  try {
    await p;
  } catch (e) {
    return e as { code?: string };
  }
  throw new Error('expected a rejection');
}

describe('AlarmService', () => {
  let fx: ReturnType<typeof tempStorage>;
  let svc: AlarmService;
  let events: AlarmEvent[];
  let errors: string[];
  const make = (over: Partial<AlarmServiceOptions> = {}) => {
    events = [];
    errors = [];
    const s = new AlarmService({
      store: fx.storage.alarms,
      now: () => 50_000,
      onError: (e, what) => errors.push(`${what}: ${(e as Error).message}`),
      ...over,
    });
    s.subscribe((evs) => events.push(...evs.map((e) => ({ ...e }))));
    return s;
  };
  beforeEach(() => {
    fx = tempStorage();
    svc = make();
  });
  afterEach(async () => {
    await svc.close();
    await fx.cleanup();
  });

  it('raises, repeats the open alarm, and tells listeners after the write', async () => {
    svc.raise(raise());
    await svc.flush();
    const [first] = await svc.list({ workspace: 'default', limit: 10 });
    expect(first).toMatchObject({ state: 'active', count: 1, firstTime: 1_000, severity: 'major' });
    svc.raise(raise({ time: 2_000, severity: 'critical', value: 9.1 }));
    await svc.flush();
    const again = await svc.get('default', first!.id);
    expect(again).toMatchObject({ count: 2, lastTime: 2_000, severity: 'critical', value: 9.1 });
    expect(events.map((e) => `${e.transition}:${e.alarm.count}`)).toEqual(['raised:1', 'repeated:2']);
  });

  it('writes a burst of 1,000 repeats as one commit and tells it once', async () => {
    const before = svc.stats.writes;
    for (let i = 0; i < 1000; i++) svc.raise(raise({ time: 1_000 + i }));
    await svc.flush();
    expect(svc.stats.writes - before).toBe(1);
    const [a] = await svc.list({ workspace: 'default', limit: 10 });
    expect(a).toMatchObject({ count: 1000, firstTime: 1_000, lastTime: 1_999 });
    expect(events.map((e) => `${e.transition}:${e.alarm.count}`)).toEqual(['raised:1', 'repeated:1000']);
    // Repeats spread over many ticks still gather into few writes.
    const w = svc.stats.writes;
    for (let i = 0; i < 200; i++) {
      svc.raise(raise({ time: 5_000 + i }));
      if (i % 20 === 0) await new Promise((r) => setImmediate(r));
    }
    await svc.flush();
    expect(svc.stats.writes - w).toBeLessThanOrEqual(3);
    expect((await svc.get('default', a!.id)).count).toBe(1200);
  });

  it('clears an acknowledged alarm when its condition clears; a later raise is a new alarm', async () => {
    svc.raise(raise());
    await svc.flush();
    const id = events[0]!.alarm.id;
    const acked = await svc.ack('default', id, 'ana', 'on my way');
    expect(acked).toMatchObject({
      state: 'acknowledged',
      acknowledged: { by: 'ana', comment: 'on my way', time: 50_000 },
    });
    svc.conditionCleared({
      workspace: 'default',
      twinId: 'pump-1',
      ruleId: 'vib',
      time: 3_000,
      reason: 'back below 6.8',
    });
    svc.conditionCleared({
      workspace: 'default',
      twinId: 'pump-9',
      ruleId: 'vib',
      time: 3_000,
      reason: 'none open',
    });
    await svc.flush();
    expect(await svc.get('default', id)).toMatchObject({
      state: 'cleared',
      acknowledged: { by: 'ana' },
      cleared: { by: 'condition', reason: 'back below 6.8', time: 3_000 },
    });
    svc.raise(raise({ time: 4_000 }));
    await svc.flush();
    const open = await svc.list({ workspace: 'default', limit: 10, states: ['active'] });
    expect(open).toHaveLength(1);
    expect(open[0]!.id).not.toBe(id);
    expect(events.map((e) => e.transition)).toEqual(['raised', 'acknowledged', 'cleared', 'raised']);
  });

  it('refuses wrong transitions with Conflict and unknown ids with NotFound, changing nothing', async () => {
    expect(await rejection(svc.ack('default', 'nope', 'ana'))).toMatchObject({
      code: 'NotFound',
      innerCode: 'AlarmNotFound',
    });
    expect(await rejection(svc.clear('default', 'nope', 'ana'))).toMatchObject({ code: 'NotFound' });
    expect(await rejection(svc.get('default', 'nope'))).toMatchObject({ code: 'NotFound' });
    svc.raise(raise());
    await svc.flush();
    const id = events[0]!.alarm.id;
    expect(await rejection(svc.ack('other-workspace', id, 'ana'))).toMatchObject({ code: 'NotFound' });
    const cleared = await svc.clear('default', id, 'bo', 'replaced the bearing');
    expect(cleared).toMatchObject({
      state: 'cleared',
      cleared: { by: 'bo', reason: 'replaced the bearing' },
    });
    expect(await rejection(svc.clear('default', id, 'bo'))).toMatchObject({ code: 'Conflict' });
    // Cleared but never acknowledged (ThingsBoard's CLEARED_UNACK): may still be acknowledged, once.
    expect((await svc.ack('default', id, 'ana')).acknowledged?.by).toBe('ana');
    expect(await rejection(svc.ack('default', id, 'ana'))).toMatchObject({ code: 'Conflict' });
    expect((await svc.get('default', id)).state).toBe('cleared');
  });

  it('applies concurrent acks, clears and repeats of one alarm in order, losing none', async () => {
    svc.raise(raise());
    await svc.flush();
    const id = events[0]!.alarm.id;
    const results: Promise<unknown>[] = [];
    for (let i = 0; i < 50; i++) svc.raise(raise({ time: 2_000 + i }));
    results.push(svc.ack('default', id, 'ana', 'seen'));
    for (let i = 0; i < 50; i++) svc.raise(raise({ time: 3_000 + i }));
    results.push(svc.clear('default', id, 'bo', 'done'));
    results.push(svc.ack('default', id, 'carl').catch((e: { code: string }) => e.code));
    for (let i = 0; i < 10; i++) svc.raise(raise({ time: 4_000 + i }));
    const settled = await Promise.all(results);
    await svc.flush();
    expect(settled[2]).toBe('Conflict');
    const first = await svc.get('default', id);
    expect(first).toMatchObject({
      count: 101,
      lastTime: 3_049,
      state: 'cleared',
      acknowledged: { by: 'ana' },
    });
    const after = await svc.list({ workspace: 'default', limit: 10, states: ['active'] });
    expect(after.map((a) => a.count)).toEqual([10]);
  });

  it("re-applies a batch another node got to first: a person's ack there survives, repeats all count", async () => {
    svc.raise(raise());
    await svc.flush();
    const id = events[0]!.alarm.id;
    // Node A (this process, another service) holds a batch of 5 repeats read at revision 1 ...
    const g = gated(fx.storage.alarms);
    const heard: AlarmEvent[] = [];
    const a = new AlarmService({ store: g.store, batchDelayMs: 1, onError: (e) => errors.push(String(e)) });
    a.subscribe((evs) => heard.push(...evs));
    const held = g.hold();
    for (let i = 0; i < 5; i++) a.raise(raise({ time: 2_000 + i }));
    await held;
    // ... while a person acknowledges the alarm on node B.
    expect((await svc.ack('default', id, 'ana', 'seen')).revision).toBe(2);
    g.release();
    await a.flush();
    expect(a.stats.conflicts).toBe(1);
    expect(await svc.get('default', id)).toMatchObject({
      state: 'acknowledged',
      acknowledged: { by: 'ana', comment: 'seen' },
      count: 6,
      lastTime: 2_004,
      revision: 7,
    });
    // Listeners of node A heard the repeats as written (after the ack), once.
    expect(heard.map((e) => [e.transition, e.alarm.count, e.alarm.state])).toEqual([
      ['repeated', 6, 'acknowledged'],
    ]);
    expect(errors).toEqual([]);
    await a.close();
  });

  it("turns the loser's new alarm into a repeat of the winner's, and does not undo a clear", async () => {
    const g = gated(fx.storage.alarms);
    const heard: AlarmEvent[] = [];
    const a = new AlarmService({ store: g.store, batchDelayMs: 1 });
    a.subscribe((evs) => heard.push(...evs));
    let held = g.hold();
    a.raise(raise({ time: 1_500 })); // read: no open alarm
    await held;
    svc.raise(raise({ time: 1_000 })); // node B opens it first
    await svc.flush();
    g.release();
    await a.flush();
    const open = await svc.list({ workspace: 'default', limit: 10 });
    expect(open.map((x) => [x.id, x.count, x.lastTime])).toEqual([[events[0]!.alarm.id, 2, 1_500]]);
    expect(heard.map((e) => e.transition)).toEqual(['repeated']);
    // Node A repeats it again while node B clears it: the clear stands, the raise opens a new alarm.
    held = g.hold();
    a.raise(raise({ time: 3_000 }));
    await held;
    await svc.clear('default', open[0]!.id, 'bo', 'fixed');
    g.release();
    await a.flush();
    expect(await svc.get('default', open[0]!.id)).toMatchObject({ state: 'cleared', count: 2 });
    const now = await svc.list({ workspace: 'default', limit: 10, states: ['active'] });
    expect(now.map((x) => x.count)).toEqual([1]);
    expect(a.stats.conflicts).toBe(2);
    await a.close();
  });

  it('gives up after conflictAttempts: ack and clear reject with Conflict, raises go to onError', async () => {
    svc.raise(raise());
    await svc.flush();
    const id = events[0]!.alarm.id;
    // A store where another node always repeats the alarm just before this node writes.
    const base = fx.storage.alarms;
    const meddled: AlarmStore = {
      get: (ws, x) => base.get(ws, x),
      open: (ws, t, r) => base.open(ws, t, r),
      list: (q) => base.list(q),
      countByState: (ws) => base.countByState(ws),
      pruneCleared: (b) => base.pruneCleared(b),
      async write(changes, rows) {
        for (const c of changes) {
          const cur = await base.get(c.alarm.workspace, c.alarm.id);
          if (cur) await base.write([{ alarm: repeatAlarm(cur, raise()), expectedRevision: cur.revision }]);
        }
        return base.write(changes, rows);
      },
      // A locked retry cannot lose to a change of what it read; a store may still refuse it (a key
      // opened elsewhere, a deadlock broken): here it always does.
      modify: () => Promise.reject(alarmChanged('default', id, 2)),
    };
    const a = make({ store: meddled, conflictAttempts: 3, conflictRetryMs: 1 });
    const err = (await rejection(a.ack('default', id, 'ana'))) as { message?: string; innerCode?: string };
    expect(err).toMatchObject({ code: 'Conflict', innerCode: 'AlarmChanged' });
    expect(err.message).toMatch(/not acknowledged.*3 attempts.*Nothing was changed/);
    expect(a.stats).toMatchObject({ conflicts: 2, failedWrites: 1 });
    a.raise(raise({ time: 9_000 }));
    await a.flush();
    expect(errors).toHaveLength(1);
    expect(errors[0]).toMatch(/refused 3 times/);
    const stored = await svc.get('default', id);
    expect(stored.state).toBe('active'); // never acknowledged
    expect(stored.count).toBe(1 + 2); // only the meddler's repeats (before each first attempt)
    await a.close();
  });

  it('drops malformed raises with a reason and cuts long texts', async () => {
    svc.raise(raise({ severity: 'apocalyptic' as never }));
    svc.raise(raise({ time: Number.NaN }));
    svc.raise(raise({ twinId: '' }));
    svc.raise(null as never);
    svc.raise(raise({ ruleId: 'inf', value: Number.POSITIVE_INFINITY })); // kept, without its value
    svc.raise(raise({ message: 'x'.repeat(100_000) }));
    await svc.flush();
    expect(svc.stats.dropped).toBe(4);
    expect(errors).toHaveLength(4);
    expect(errors[0]).toMatch(/Unknown severity/);
    const [inf] = await svc.list({ workspace: 'default', limit: 10, ruleId: 'inf' });
    expect(inf).toBeDefined();
    expect(inf!.value).toBeUndefined();
    const [a] = await svc.list({ workspace: 'default', limit: 10, ruleId: 'vib' });
    expect(a!.message).toHaveLength(MAX_ALARM_TEXT);
    const acked = await svc.ack('default', a!.id, 'b'.repeat(10_000), 'c'.repeat(10_000));
    expect(acked.acknowledged!.by.length).toBeLessThanOrEqual(200);
    expect(acked.acknowledged!.comment).toHaveLength(MAX_ALARM_TEXT);
  });

  it('writes event-route rows with the alarms, in the same commit', async () => {
    await svc.close();
    svc = make({
      journal: (evs) =>
        evs.map((e) => ({
          endpoint: 'hook',
          orderKey: e.alarm.twinId,
          event: {
            id: `${e.transition}-${e.alarm.count}`,
            type: e.transition,
            source: 's',
            time: 1,
            data: {},
            twinId: e.alarm.twinId,
          },
          created: 1,
        })),
    });
    for (let i = 0; i < 5; i++) svc.raise(raise({ time: 1_000 + i }));
    await svc.flush();
    const pending = await fx.storage.outbox.pending(0, 10);
    expect(pending.map((p) => p.event.id)).toEqual(['raised-1', 'repeated-5']);
  });

  it('keeps the open alarm across a restart, and reports a failed write to the caller', async () => {
    svc.raise(raise());
    await svc.close();
    const storage = await fx.reopen();
    svc = make({ store: storage.alarms });
    svc.raise(raise({ time: 9_000 }));
    await svc.flush();
    const all = await svc.list({ workspace: 'default', limit: 10 });
    expect(all.map((a) => [a.count, a.lastTime])).toEqual([[2, 9_000]]);
    await storage.close(); // writes now fail
    expect(await rejection(svc.ack('default', all[0]!.id, 'ana'))).toMatchObject({ code: 'StorageError' });
    svc.raise(raise({ time: 10_000 }));
    await svc.flush();
    expect(errors.at(-1)).toMatch(/alarm raise/);
    fx.storage = (await fx.reopen()) as typeof fx.storage;
    svc = make();
  });
});
