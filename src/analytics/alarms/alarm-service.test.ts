// The alarm service on real SQLite storage: lifecycle, coalesced repeats, ordering, errors, restart.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AlarmEvent } from '../../core/alarms/alarm.js';
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
