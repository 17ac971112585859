// The alarm state machine, and its events as event routes and the live stream see them.
import { describe, expect, it } from 'vitest';
import { TwinloopError } from '../errors/errors.js';
import { EVENT_TYPES, alarmRoutedEvent, filterInputOf, toCloudEvent } from '../events/change-events.js';
import { parseFilter } from '../events/route-filter.js';
import { matchesFilter } from '../events/route-filter-eval.js';
import { LiveEventBus, alarmLiveEvent, type LiveEvent } from '../live/live-events.js';
import { eventKind, isMergeable, parseSubscription } from '../live/live-filters.js';
import { LiveHub } from '../live/live-hub.js';
import type { LiveSink } from '../live/live-session.js';
import {
  acknowledgeAlarm,
  alarmKeptChanging,
  alarmToJson,
  checkAlarmWrites,
  clearAlarm,
  clearedFirst,
  isAlarmWriteConflict,
  newAlarm,
  openAlarmConflict,
  repeatAlarm,
  transitionTime,
  type AlarmRaiseInput,
} from './alarm.js';

const raise = (over: Partial<AlarmRaiseInput> = {}): AlarmRaiseInput => ({
  workspace: 'w',
  twinId: 'pump/1',
  ruleId: 'vib',
  ruleVersion: 2,
  severity: 'major',
  message: 'vibration high',
  time: 1_000,
  value: 7.9,
  ...over,
});

const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(TwinloopError);
    return (e as TwinloopError).code;
  }
  return undefined;
};

describe('the alarm state machine', () => {
  it('counts repeats, keeps firstTime, follows the latest raise and never moves lastTime back', () => {
    const a = newAlarm('a', raise());
    const b = repeatAlarm(a, raise({ time: 5_000, severity: 'critical', ruleVersion: 3, value: 9 }));
    const c = repeatAlarm(b, raise({ time: 4_000, value: undefined }));
    expect(c).toMatchObject({ count: 3, firstTime: 1_000, lastTime: 5_000, ruleVersion: 2, state: 'active' });
    expect(c.value).toBeUndefined();
    expect(b).toMatchObject({ severity: 'critical', ruleVersion: 3, value: 9 });
  });

  it('acknowledges once, clears once, and lets a cleared unacknowledged alarm be acknowledged', () => {
    const a = newAlarm('a', raise());
    const acked = acknowledgeAlarm(a, 'ana', 'on it', 2_000);
    expect(acked).toMatchObject({ state: 'acknowledged', acknowledged: { by: 'ana', comment: 'on it' } });
    expect(codeOf(() => acknowledgeAlarm(acked, 'bo', undefined, 3_000))).toBe('Conflict');
    const cleared = clearAlarm(acked, 'condition', 'back to normal', 3_000);
    expect(cleared).toMatchObject({
      state: 'cleared',
      acknowledged: { by: 'ana' },
      cleared: { by: 'condition' },
    });
    expect(codeOf(() => clearAlarm(cleared, 'bo', 'again', 4_000))).toBe('Conflict');
    const unacked = clearAlarm(a, 'bo', 'fixed', 500); // a clear never predates the raise
    expect(unacked.cleared?.time).toBe(1_000);
    const late = acknowledgeAlarm(unacked, 'ana', undefined, 6_000);
    expect(late.state).toBe('cleared');
    expect(late.acknowledged).toEqual({ by: 'ana', time: 6_000 });
    expect(codeOf(() => acknowledgeAlarm(late, 'ana', undefined, 7_000))).toBe('Conflict');
    expect(clearedFirst([{ alarm: a }, { alarm: unacked }]).map((x) => x.alarm.state)).toEqual([
      'cleared',
      'active',
    ]);
  });

  it('counts a revision: 1 when raised, one more at each change; none read as 0', () => {
    const a = newAlarm('a', raise());
    expect(a.revision).toBe(1);
    const b = repeatAlarm(a, raise({ time: 2_000 }));
    const c = acknowledgeAlarm(b, 'ana', undefined, 2_500);
    const d = clearAlarm(c, 'condition', 'ok', 3_000);
    expect([b.revision, c.revision, d.revision]).toEqual([2, 3, 4]);
    expect(a.revision).toBe(1); // records are never changed in place
    const { revision: _gone, ...old } = a;
    expect(repeatAlarm(old as typeof a, raise()).revision).toBe(1);
    expect(alarmToJson(d)).not.toHaveProperty('revision');
  });

  it('checks a store write: revisions forward, each alarm once', () => {
    const a = newAlarm('a', raise());
    const b = repeatAlarm(a, raise());
    expect(() =>
      checkAlarmWrites([
        { alarm: a, expectedRevision: 0 },
        { alarm: b, expectedRevision: 1 },
      ]),
    ).toThrow(/twice/);
    expect(codeOf(() => checkAlarmWrites([{ alarm: a, expectedRevision: 1 }]))).toBe('BadRequest');
    expect(codeOf(() => checkAlarmWrites([{ alarm: b, expectedRevision: -1 }]))).toBe('BadRequest');
    expect(codeOf(() => checkAlarmWrites([{ alarm: { ...b, revision: 2.5 }, expectedRevision: 1 }]))).toBe(
      'BadRequest',
    );
    expect(() =>
      checkAlarmWrites([
        { alarm: b, expectedRevision: 1 },
        { alarm: newAlarm('c', raise()), expectedRevision: 0 },
      ]),
    ).not.toThrow();
  });

  it('tells write conflicts worth a retry from other conflicts', () => {
    expect(isAlarmWriteConflict(openAlarmConflict(undefined))).toBe(true);
    expect(isAlarmWriteConflict(alarmKeptChanging('acknowledged', 'a', 5, undefined))).toBe(true);
    const acked = acknowledgeAlarm(newAlarm('a', raise()), 'ana', undefined, 2_000);
    let already: unknown;
    try {
      acknowledgeAlarm(acked, 'bo', undefined, 3_000);
    } catch (e) {
      already = e;
    }
    expect(already).toMatchObject({ code: 'Conflict' });
    expect(isAlarmWriteConflict(already)).toBe(false);
    expect(isAlarmWriteConflict(new Error('x'))).toBe(false);
  });

  it('shows times as ISO 8601 and leaves out what is absent', () => {
    const j = alarmToJson(
      acknowledgeAlarm(newAlarm('a', raise({ value: undefined })), 'ana', undefined, 2_000),
    );
    expect(j).toEqual({
      id: 'a',
      twinId: 'pump/1',
      ruleId: 'vib',
      ruleVersion: 2,
      severity: 'major',
      message: 'vibration high',
      state: 'acknowledged',
      firstTime: '1970-01-01T00:00:01.000Z',
      lastTime: '1970-01-01T00:00:01.000Z',
      count: 1,
      acknowledged: { by: 'ana', time: '1970-01-01T00:00:02.000Z' },
    });
  });
});

describe('alarm events', () => {
  const a = newAlarm('al-1', raise());
  const cleared = clearAlarm(a, 'condition', 'ok', 9_000);

  it('are CloudEvents a route filter can pick by type', () => {
    const ev = alarmRoutedEvent(
      { transition: 'cleared', alarm: cleared },
      { source: 'host', newId: () => 'e1' },
    );
    expect(toCloudEvent(ev)).toMatchObject({
      id: 'e1',
      type: EVENT_TYPES.alarmCleared,
      source: 'host/digitaltwins/pump%2F1',
      subject: 'alarms/al-1',
      time: '1970-01-01T00:00:09.000Z',
      data: { id: 'al-1', state: 'cleared', cleared: { by: 'condition', reason: 'ok' } },
    });
    expect(ev.twinId).toBe('pump/1');
    const input = filterInputOf(ev);
    expect(matchesFilter(parseFilter("type = 'Twinloop.Alarm.Cleared'"), input)).toBe(true);
    expect(matchesFilter(parseFilter("type = 'Twinloop.Alarm.Raised'"), input)).toBe(false);
    expect(transitionTime({ transition: 'raised', alarm: cleared })).toBe(1_000);
  });

  it('reach live subscribers that ask for alarms, by twin or model, and no one else', () => {
    const live = alarmLiveEvent({ transition: 'raised', alarm: a }, 'dtmi:ex:Pump;1');
    expect(eventKind(live)).toBe('alarm');
    expect(isMergeable(live)).toBe(false);
    const parse = (m: Record<string, unknown>) =>
      parseSubscription(m, { defaultWorkspace: 'w', maxTwinIds: 10, maxQueryLength: 100 });
    expect([...parse({ id: 'x', twinIds: ['t'] }).types]).not.toContain('alarm');

    const bus = new LiveEventBus();
    const hub = new LiveHub({ bus, isOfModel: (_w, m, b) => m === b, schedule: () => {} });
    const frames: { sub?: string; events?: LiveEvent[] }[] = [];
    const sink: LiveSink = {
      bufferedAmount: 0,
      send: (f: string) => void frames.push(JSON.parse(f) as never),
    };
    const s = hub.openSession(sink);
    s.subscribe(parse({ id: 'byModel', model: 'dtmi:ex:Pump;1', types: ['alarm'] }));
    s.subscribe(parse({ id: 'byTwin', twinIds: ['pump/1'], types: ['alarm', 'telemetry'] }));
    s.subscribe(parse({ id: 'default', twinIds: ['pump/1'] }));
    s.subscribe(parse({ id: 'otherModel', model: 'dtmi:ex:Valve;1', types: ['alarm'] }));
    bus.publish([
      live,
      alarmLiveEvent({ transition: 'raised', alarm: newAlarm('x', raise({ twinId: 'p2' })) }, ''),
    ]);
    hub.drain();
    const got = (sub: string) =>
      frames
        .filter((f) => f.sub === sub)
        .flatMap((f) => (f.events ?? []).map((e) => e.type + ':' + e.twinId));
    expect(got('byModel')).toEqual(['alarm:pump/1']);
    expect(got('byTwin')).toEqual(['alarm:pump/1']);
    expect(got('default')).toEqual([]);
    expect(got('otherModel')).toEqual([]);
  });
});
