/**
 * What an alarm is once a rule raised it, and the one state machine every alarm follows (pure: times
 * and ids are given by the caller). States, after ThingsBoard's four:
 *
 * - `active`: raised, nobody acknowledged it yet (ThingsBoard's ACTIVE_UNACK);
 * - `acknowledged`: still active, someone said they saw it (ACTIVE_ACK);
 * - `cleared`: over, by its condition (`cleared.by === 'condition'`) or by a person; CLEARED_UNACK
 *   and CLEARED_ACK are told apart by `acknowledged` being present. A cleared alarm that nobody
 *   acknowledged may still be acknowledged; nothing else changes a cleared alarm.
 *
 * While an alarm is open (not cleared) a repeat of its rule's condition is the same alarm: `count`
 * grows, `lastTime`, severity, message, value and rule version follow the latest raise. A raise
 * after the clear opens a new alarm. At most one alarm per (workspace, twin, rule) is open.
 *
 * Every record carries a `revision`: 1 when raised, one more at each change (repeat, acknowledgement,
 * clear). Stores write a change only over the revision its writer read (optimistic concurrency), so
 * two writers (two nodes on one PostgreSQL) never overwrite each other's changes unseen.
 */
import { TwinloopError, quote } from '../errors/errors.js';

/** Alarm severities, most severe first (ThingsBoard's five; the same list as analytics-types.ts). */
export const ALARM_SEVERITY_LIST = ['critical', 'major', 'minor', 'warning', 'indeterminate'] as const;
export type AlarmSeverityName = (typeof ALARM_SEVERITY_LIST)[number];

export const ALARM_STATES = ['active', 'acknowledged', 'cleared'] as const;
export type AlarmState = (typeof ALARM_STATES)[number];

/** Who cleared an alarm when its rule's condition did (not a person). */
export const CLEARED_BY_CONDITION = 'condition';

export interface AlarmRecord {
  /** Unique (a UUID), assigned when raised. */
  id: string;
  workspace: string;
  twinId: string;
  ruleId: string;
  /** Version of the rule behind the latest raise. */
  ruleVersion: number;
  severity: AlarmSeverityName;
  message: string;
  state: AlarmState;
  /** The value that decided the latest raise, when there was one. */
  value?: number;
  /** Source time of the first raise and of the latest one, ms since epoch. */
  firstTime: number;
  lastTime: number;
  /** Raises while open (1 at first). */
  count: number;
  acknowledged?: { by: string; comment?: string; time: number };
  /** `by`: a person, or CLEARED_BY_CONDITION. */
  cleared?: { by: string; reason: string; time: number };
  /**
   * 1 when raised, one more at each change. Stores fill it in when reading (alarms stored before
   * revisions existed read as revision 1).
   */
  revision: number;
}

/** What a rule says when its condition holds (AlarmRaise of analytics-types.ts has this shape). */
export interface AlarmRaiseInput {
  workspace: string;
  twinId: string;
  ruleId: string;
  ruleVersion: number;
  severity: AlarmSeverityName;
  message: string;
  time: number;
  value?: number;
}

/** What happened to an alarm, for listeners (the live stream, event routes). */
export type AlarmTransition = 'raised' | 'repeated' | 'acknowledged' | 'cleared';

export interface AlarmEvent {
  transition: AlarmTransition;
  /** The alarm after the transition. */
  alarm: AlarmRecord;
}

/** When a transition happened: the raise, the latest repeat, the acknowledgement or the clear. */
export function transitionTime(e: AlarmEvent): number {
  const a = e.alarm;
  if (e.transition === 'raised') return a.firstTime;
  if (e.transition === 'acknowledged') return a.acknowledged?.time ?? a.lastTime;
  if (e.transition === 'cleared') return a.cleared?.time ?? a.lastTime;
  return a.lastTime;
}

/** The key of which at most one alarm is open. */
export function alarmKey(a: { workspace: string; twinId: string; ruleId: string }): string {
  return `${a.workspace}\u0000${a.twinId}\u0000${a.ruleId}`;
}

export function isOpen(a: AlarmRecord): boolean {
  return a.state !== 'cleared';
}

/** A new alarm from a raise. */
export function newAlarm(id: string, r: AlarmRaiseInput): AlarmRecord {
  const a: AlarmRecord = {
    id,
    workspace: r.workspace,
    twinId: r.twinId,
    ruleId: r.ruleId,
    ruleVersion: r.ruleVersion,
    severity: r.severity,
    message: r.message,
    state: 'active',
    firstTime: r.time,
    lastTime: r.time,
    count: 1,
    revision: 1,
  };
  if (r.value !== undefined) a.value = r.value;
  return a;
}

/** The open alarm after a repeat of its raise (lastTime never goes back). */
export function repeatAlarm(a: AlarmRecord, r: AlarmRaiseInput): AlarmRecord {
  const next: AlarmRecord = {
    ...a,
    ruleVersion: r.ruleVersion,
    severity: r.severity,
    message: r.message,
    lastTime: Math.max(a.lastTime, r.time),
    count: a.count + 1,
    revision: nextRevision(a),
  };
  if (r.value !== undefined) next.value = r.value;
  else delete next.value;
  return next;
}

/**
 * The alarm acknowledged. @throws Conflict when it was acknowledged already.
 * @example acknowledgeAlarm(alarm, 'ana', 'looking at it', Date.now())
 */
export function acknowledgeAlarm(
  a: AlarmRecord,
  by: string,
  comment: string | undefined,
  time: number,
): AlarmRecord {
  if (a.acknowledged)
    throw new TwinloopError(
      'Conflict',
      `Alarm '${quote(a.id)}' was already acknowledged by '${quote(a.acknowledged.by, 64)}'.`,
      { innerCode: 'AlarmAlreadyAcknowledged', details: { state: a.state } },
    );
  return {
    ...a,
    state: a.state === 'cleared' ? 'cleared' : 'acknowledged',
    acknowledged: { by, ...(comment !== undefined ? { comment } : {}), time },
    revision: nextRevision(a),
  };
}

/** The alarm cleared (by a person or CLEARED_BY_CONDITION). @throws Conflict when it is cleared already. */
export function clearAlarm(a: AlarmRecord, by: string, reason: string, time: number): AlarmRecord {
  if (a.state === 'cleared')
    throw new TwinloopError('Conflict', `Alarm '${quote(a.id)}' is already cleared.`, {
      innerCode: 'AlarmAlreadyCleared',
      details: { state: a.state },
    });
  return {
    ...a,
    state: 'cleared',
    cleared: { by, reason, time: Math.max(time, a.firstTime) },
    revision: nextRevision(a),
  };
}

/** The revision after a change (a record read from somewhere without one counts as revision 0). */
function nextRevision(a: AlarmRecord): number {
  const r = (a as { revision?: unknown }).revision;
  return (typeof r === 'number' && Number.isSafeInteger(r) && r > 0 ? r : 0) + 1;
}

/** Writes of cleared alarms first: a batch may clear an alarm and open its successor. */
export function clearedFirst<T extends { alarm: AlarmRecord }>(changes: readonly T[]): T[] {
  const cleared = (x: T) => Number(x.alarm.state === 'cleared');
  return [...changes].sort((a, b) => cleared(b) - cleared(a));
}

/** A write that would open a second alarm of one twin and rule. */
export function openAlarmConflict(cause: unknown): TwinloopError {
  return new TwinloopError(
    'Conflict',
    'Cannot store the alarms: a twin would have two open alarms of one rule (at most one alarm per twin and rule is open).',
    { cause, innerCode: 'AlarmAlreadyOpen' },
  );
}

/**
 * A write over an alarm that changed since its writer read it (another node wrote it first), or over
 * an id already taken: nothing of the batch was written; read again and re-apply.
 */
export function alarmChanged(
  workspace: string,
  id: string,
  expectedRevision: number,
  cause?: unknown,
): TwinloopError {
  return new TwinloopError(
    'Conflict',
    expectedRevision === 0
      ? `Cannot store the alarms: alarm '${quote(id)}' is new, but an alarm with its id is stored already.`
      : `Cannot store the alarms: alarm '${quote(id)}' was changed by another writer since it was read at revision ${expectedRevision}.`,
    {
      ...(cause !== undefined ? { cause } : {}),
      innerCode: 'AlarmChanged',
      details: { workspace, id, expectedRevision },
    },
  );
}

/**
 * Checks a store write before it starts: revisions whole and moving forward, each alarm once.
 * @throws BadRequest
 */
export function checkAlarmWrites(changes: readonly { alarm: AlarmRecord; expectedRevision: number }[]): void {
  const seen = new Set<string>();
  for (const { alarm: a, expectedRevision: from } of changes) {
    if (!Number.isSafeInteger(from) || from < 0 || !Number.isSafeInteger(a.revision) || a.revision <= from)
      throw new TwinloopError(
        'BadRequest',
        `Cannot store alarm '${quote(a.id)}': its revision ${String(a.revision)} must be a whole number above the expected ${String(from)}.`,
      );
    const k = `${a.workspace}\u0000${a.id}`;
    if (seen.has(k))
      throw new TwinloopError('BadRequest', `Cannot store alarm '${quote(a.id)}' twice in one write.`);
    seen.add(k);
  }
}

/** Whether a write was refused because another writer got there first (worth re-reading and retrying). */
export function isAlarmWriteConflict(e: unknown): e is TwinloopError {
  return (
    e instanceof TwinloopError &&
    e.code === 'Conflict' &&
    (e.innerCode === 'AlarmChanged' || e.innerCode === 'AlarmAlreadyOpen')
  );
}

/** A person's acknowledgement or clear given up after `attempts` writes refused for concurrent changes. */
export function alarmKeptChanging(
  what: 'acknowledged' | 'cleared',
  id: string,
  attempts: number,
  cause: unknown,
): TwinloopError {
  return new TwinloopError(
    'Conflict',
    `Alarm '${quote(id)}' was not ${what}: other Twinloop nodes changed alarms of the same write at the same time, ${attempts} attempts in a row. Nothing was changed; read the alarm again and retry.`,
    { cause, innerCode: 'AlarmChanged', details: { attempts } },
  );
}

export function alarmNotFound(id: string): TwinloopError {
  return new TwinloopError('NotFound', `There is no alarm with id '${quote(id)}'.`, {
    innerCode: 'AlarmNotFound',
  });
}

/** An alarm as the API, the live stream and event routes show it (times as ISO 8601). */
export function alarmToJson(a: AlarmRecord): Record<string, unknown> {
  const iso = (t: number) => new Date(t).toISOString();
  return {
    id: a.id,
    twinId: a.twinId,
    ruleId: a.ruleId,
    ruleVersion: a.ruleVersion,
    severity: a.severity,
    message: a.message,
    state: a.state,
    ...(a.value !== undefined ? { value: a.value } : {}),
    firstTime: iso(a.firstTime),
    lastTime: iso(a.lastTime),
    count: a.count,
    ...(a.acknowledged
      ? {
          acknowledged: {
            by: a.acknowledged.by,
            ...(a.acknowledged.comment !== undefined ? { comment: a.acknowledged.comment } : {}),
            time: iso(a.acknowledged.time),
          },
        }
      : {}),
    ...(a.cleared ? { cleared: { ...a.cleared, time: iso(a.cleared.time) } } : {}),
  };
}
