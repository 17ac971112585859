/**
 * The columns of an alarm row after its key (workspace, id), in the order both SQL stores write
 * them: twin_id, rule_id, severity, state, first_time, last_time, cleared_time, body, revision.
 */
import type { AlarmRecord } from '../../core/alarms/alarm.js';

export function alarmRowValues(a: AlarmRecord): unknown[] {
  return [
    a.twinId,
    a.ruleId,
    a.severity,
    a.state,
    a.firstTime,
    a.lastTime,
    a.cleared?.time ?? null,
    JSON.stringify(a),
    a.revision,
  ];
}
