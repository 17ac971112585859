/**
 * The columns of an alarm row after its key (workspace, id), in the order both SQL stores write
 * them: twin_id, rule_id, severity, state, first_time, last_time, cleared_time, body, revision.
 */
import type { AlarmRecord } from '../../core/alarms/alarm.js';

export function alarmRowValues(a: AlarmRecord): unknown[] {
  return [a.twinId, a.ruleId, ...alarmChangeValues(a)];
}

/**
 * The columns a change of an alarm writes (its twin and rule never change): severity, state,
 * first_time, last_time, cleared_time, body, revision.
 */
export function alarmChangeValues(a: AlarmRecord): unknown[] {
  return [
    a.severity,
    a.state,
    a.firstTime,
    a.lastTime,
    a.cleared?.time ?? null,
    JSON.stringify(a),
    a.revision,
  ];
}
