/**
 * The events ADT emits, as Twinloop journals them, and their CloudEvent form:
 * - Microsoft.DigitalTwins.Twin.Create / .Delete: the twin as ADT returns it (subject: the twin id);
 * - Microsoft.DigitalTwins.Twin.Update: `{ modelId, patch }`, a JSON Patch of what changed (a full
 *   replace is journaled as the patch from the old contents to the new);
 * - Microsoft.DigitalTwins.Relationship.Create / .Delete: the relationship as ADT returns it;
 *   .Update: `{ modelId, patch }` (modelId: the source twin's model); subject
 *   `<sourceId>/relationships/<relationshipId>`;
 * - microsoft.iot.telemetry: the readings, source `<host>/digitaltwins/<twinId>`, dataschema the
 *   twin's model, `telemetrysourcetime` when the reading carried a source time;
 * - Twinloop.Alarm.Raised / .Repeated / .Acknowledged / .Cleared (Twinloop's own): the alarm as
 *   GET /alarms/{id} answers it, source `<host>/digitaltwins/<twinId>`, subject `alarms/<alarmId>`.
 * - Twinloop.Command.Queued / .Sent / .Acknowledged / .Succeeded / .Failed / .Expired / .Cancelled:
 *   the command as its GET answers it, subject `commands/<requestId>` (docs/control.md).
 * - Twinloop.Device.Connected / .Disconnected: `{ modelId, state, since, lastSeen }`, subject
 *   `$connection`; Twinloop.DesiredState.Diverged / .Converged: `{ modelId, property, desiredValue,
 *   reportedValue, desiredVersion, pendingSince }`, subject the property ("prop" or "comp/prop");
 *   both with source `<host>/digitaltwins/<twinId>` (docs/control.md).
 */
import { alarmToJson, transitionTime, type AlarmEvent } from '../alarms/alarm.js';
import type { RelationshipRecord, TwinRecord } from '../graph/graph-types.js';
import { relationshipToJson, twinToJson } from '../graph/twin-json.js';
import type { DeviceLiveEvent } from '../live/live-events.js';
import type { FilterInput } from './route-filter.js';

/** A CloudEvent as sent (attributes and data). */
export interface CloudEvent {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  subject?: string;
  time: string;
  datacontenttype: 'application/json';
  dataschema?: string;
  data: unknown;
  [extension: string]: unknown;
}

export const EVENT_TYPES = {
  twinCreate: 'Microsoft.DigitalTwins.Twin.Create',
  twinUpdate: 'Microsoft.DigitalTwins.Twin.Update',
  twinDelete: 'Microsoft.DigitalTwins.Twin.Delete',
  relationshipCreate: 'Microsoft.DigitalTwins.Relationship.Create',
  relationshipUpdate: 'Microsoft.DigitalTwins.Relationship.Update',
  relationshipDelete: 'Microsoft.DigitalTwins.Relationship.Delete',
  telemetry: 'microsoft.iot.telemetry',
  alarmRaised: 'Twinloop.Alarm.Raised',
  alarmRepeated: 'Twinloop.Alarm.Repeated',
  alarmAcknowledged: 'Twinloop.Alarm.Acknowledged',
  alarmCleared: 'Twinloop.Alarm.Cleared',
  commandQueued: 'Twinloop.Command.Queued',
  commandSent: 'Twinloop.Command.Sent',
  commandAcknowledged: 'Twinloop.Command.Acknowledged',
  commandSucceeded: 'Twinloop.Command.Succeeded',
  commandFailed: 'Twinloop.Command.Failed',
  commandExpired: 'Twinloop.Command.Expired',
  commandCancelled: 'Twinloop.Command.Cancelled',
  deviceConnected: 'Twinloop.Device.Connected',
  deviceDisconnected: 'Twinloop.Device.Disconnected',
  desiredDiverged: 'Twinloop.DesiredState.Diverged',
  desiredConverged: 'Twinloop.DesiredState.Converged',
} as const;

const COMMAND_EVENT_TYPE = {
  queued: EVENT_TYPES.commandQueued,
  sent: EVENT_TYPES.commandSent,
  acknowledged: EVENT_TYPES.commandAcknowledged,
  succeeded: EVENT_TYPES.commandSucceeded,
  failed: EVENT_TYPES.commandFailed,
  expired: EVENT_TYPES.commandExpired,
  cancelled: EVENT_TYPES.commandCancelled,
} as const;

/** One step of a command, as event routes journal it (no import of the command store: no cycle). */
export interface CommandStepEvent {
  requestId: string;
  twinId: string;
  state: keyof typeof COMMAND_EVENT_TYPE;
  /** When it reached the state, ms. */
  time: number;
  /** The command as GET /digitaltwins/{id}/commands/{requestId} answers it. */
  data: Record<string, unknown>;
}

const ALARM_EVENT_TYPE = {
  raised: EVENT_TYPES.alarmRaised,
  repeated: EVENT_TYPES.alarmRepeated,
  acknowledged: EVENT_TYPES.alarmAcknowledged,
  cleared: EVENT_TYPES.alarmCleared,
} as const;

/** An event as journaled: everything its CloudEvent needs, fixed at commit time. */
export interface RoutedEvent {
  /** The CloudEvent id (a UUID; stays the same across retries and replays). */
  id: string;
  type: string;
  source: string;
  subject?: string;
  /** When the change happened, ms since epoch. */
  time: number;
  dataschema?: string;
  /** Extension attributes (lower-case names). */
  ext?: Record<string, string>;
  data: unknown;
  /** The twin the event is about: events of one twin are delivered in order. */
  twinId: string;
}

export type PatchOperation = { op: string; path: string; value?: unknown };

/** A committed change, as the twin and relationship services report it. */
export type Change =
  | { kind: 'twinCreated' | 'twinDeleted'; twin: TwinRecord }
  | { kind: 'twinReplaced'; before: TwinRecord; twin: TwinRecord }
  | { kind: 'twinUpdated'; twin: TwinRecord; patch: readonly PatchOperation[] }
  | { kind: 'relationshipCreated' | 'relationshipDeleted'; rel: RelationshipRecord; modelId: string }
  | { kind: 'relationshipReplaced'; before: RelationshipRecord; rel: RelationshipRecord; modelId: string }
  | {
      kind: 'relationshipUpdated';
      rel: RelationshipRecord;
      modelId: string;
      patch: readonly PatchOperation[];
    }
  /** The device side of a twin: presence changes and divergence (DeviceStateService). */
  | { kind: 'device'; events: readonly DeviceLiveEvent[] };

export interface TelemetryChange {
  twinId: string;
  modelId: string;
  component?: string;
  values: Record<string, unknown>;
  /** Source time (ms). */
  time: number;
  /** True when the time is the device's own (then `telemetrysourcetime` is set). */
  sourceTime?: boolean;
  /** The message id (ADT: the Message-Id header) when there is one: the event's id. */
  messageId?: string;
}

export interface EventFactoryOptions {
  /** The instance's host name: the CloudEvent `source`. */
  source: string;
  newId: () => string;
  /** Clock for deletions (which have no write time of their own), ms. */
  now: () => number;
  isComponent?: (twin: TwinRecord, name: string) => boolean;
}

function jsonEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function escapePointer(s: string): string {
  return s.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** The JSON Patch from one contents object to another (top-level members). */
export function diffContents(
  before: Readonly<Record<string, unknown>>,
  after: Readonly<Record<string, unknown>>,
): PatchOperation[] {
  const ops: PatchOperation[] = [];
  for (const k of Object.keys(before))
    if (!Object.prototype.hasOwnProperty.call(after, k))
      ops.push({ op: 'remove', path: `/${escapePointer(k)}` });
  for (const [k, v] of Object.entries(after)) {
    if (!Object.prototype.hasOwnProperty.call(before, k))
      ops.push({ op: 'add', path: `/${escapePointer(k)}`, value: v });
    else if (!jsonEqual(before[k], v)) ops.push({ op: 'replace', path: `/${escapePointer(k)}`, value: v });
  }
  return ops;
}

/** The events of one change (none when a replace changed nothing). */
export function eventsOf(change: Change, o: EventFactoryOptions): RoutedEvent[] {
  const base = (type: string, twinId: string, time: number, subject: string, data: unknown): RoutedEvent => ({
    id: o.newId(),
    type,
    source: o.source,
    subject,
    time,
    data,
    twinId,
  });
  switch (change.kind) {
    case 'twinCreated':
    case 'twinDeleted': {
      const t = change.twin;
      const type = change.kind === 'twinCreated' ? EVENT_TYPES.twinCreate : EVENT_TYPES.twinDelete;
      const time = change.kind === 'twinCreated' ? t.lastUpdateTime : o.now();
      return [base(type, t.id, time, t.id, twinToJson(t, o.isComponent))];
    }
    case 'twinReplaced': {
      const patch = diffContents(change.before.contents, change.twin.contents);
      if (change.before.modelId !== change.twin.modelId)
        patch.unshift({ op: 'replace', path: '/$metadata/$model', value: change.twin.modelId });
      if (patch.length === 0) return [];
      const t = change.twin;
      return [base(EVENT_TYPES.twinUpdate, t.id, t.lastUpdateTime, t.id, { modelId: t.modelId, patch })];
    }
    case 'twinUpdated': {
      const t = change.twin;
      return [
        base(EVENT_TYPES.twinUpdate, t.id, t.lastUpdateTime, t.id, {
          modelId: t.modelId,
          patch: change.patch.map((p) => ({ ...p })),
        }),
      ];
    }
    case 'relationshipCreated':
    case 'relationshipDeleted': {
      const r = change.rel;
      const type =
        change.kind === 'relationshipCreated'
          ? EVENT_TYPES.relationshipCreate
          : EVENT_TYPES.relationshipDelete;
      const time = change.kind === 'relationshipCreated' ? r.lastUpdateTime : o.now();
      return [base(type, r.sourceId, time, relSubject(r), relationshipToJson(r))];
    }
    case 'relationshipReplaced': {
      const r = change.rel;
      const patch = diffContents(change.before.properties, r.properties);
      if (change.before.targetId !== r.targetId)
        patch.unshift({ op: 'replace', path: '/$targetId', value: r.targetId });
      if (patch.length === 0) return [];
      return [
        base(EVENT_TYPES.relationshipUpdate, r.sourceId, r.lastUpdateTime, relSubject(r), {
          modelId: change.modelId,
          patch,
        }),
      ];
    }
    case 'relationshipUpdated': {
      const r = change.rel;
      return [
        base(EVENT_TYPES.relationshipUpdate, r.sourceId, r.lastUpdateTime, relSubject(r), {
          modelId: change.modelId,
          patch: change.patch.map((p) => ({ ...p })),
        }),
      ];
    }
    case 'device':
      return change.events.flatMap((e) => deviceRoutedEvents(e, o));
  }
}

/** The event-route events of a device-side live event (a `reported` one has none: $metadata shows it). */
function deviceRoutedEvents(e: DeviceLiveEvent, o: EventFactoryOptions): RoutedEvent[] {
  const ev = (type: string, subject: string, data: unknown): RoutedEvent => ({
    id: o.newId(),
    type,
    source: `${o.source}/digitaltwins/${encodeURIComponent(e.twinId)}`,
    subject,
    time: e.time,
    data,
    twinId: e.twinId,
  });
  switch (e.type) {
    case 'connection':
      return [
        ev(
          e.state === 'connected' ? EVENT_TYPES.deviceConnected : EVENT_TYPES.deviceDisconnected,
          '$connection',
          {
            modelId: e.modelId,
            state: e.state,
            since: new Date(e.time).toISOString(),
            lastSeen: new Date(e.lastSeen).toISOString(),
          },
        ),
      ];
    case 'desiredState': {
      const data: Record<string, unknown> = {
        modelId: e.modelId,
        property: e.property,
        desiredValue: e.desiredValue,
        reportedValue: e.reportedValue,
        pendingSince: new Date(e.pendingSince).toISOString(),
      };
      if (e.desiredVersion !== undefined) data.desiredVersion = e.desiredVersion;
      const type = e.transition === 'diverged' ? EVENT_TYPES.desiredDiverged : EVENT_TYPES.desiredConverged;
      return [ev(type, e.property, data)];
    }
    case 'reported':
      return [];
  }
}

function relSubject(r: RelationshipRecord): string {
  return `${r.sourceId}/relationships/${r.id}`;
}

/** The event of one telemetry message. */
export function telemetryEvent(t: TelemetryChange, o: EventFactoryOptions): RoutedEvent {
  const ev: RoutedEvent = {
    id: t.messageId ?? o.newId(),
    type: EVENT_TYPES.telemetry,
    source: `${o.source}/digitaltwins/${encodeURIComponent(t.twinId)}`,
    time: t.time,
    dataschema: t.modelId,
    data: t.values,
    twinId: t.twinId,
  };
  if (t.component !== undefined) ev.subject = t.component;
  if (t.sourceTime) ev.ext = { telemetrysourcetime: new Date(t.time).toISOString() };
  return ev;
}

/** The event of one alarm transition (ordered with the other events of its twin). */
export function alarmRoutedEvent(
  e: AlarmEvent,
  o: Pick<EventFactoryOptions, 'source' | 'newId'>,
): RoutedEvent {
  const a = e.alarm;
  return {
    id: o.newId(),
    type: ALARM_EVENT_TYPE[e.transition],
    source: `${o.source}/digitaltwins/${encodeURIComponent(a.twinId)}`,
    subject: `alarms/${a.id}`,
    time: transitionTime(e),
    data: alarmToJson(a),
    twinId: a.twinId,
  };
}

/**
 * The event of one command step (ordered with the other events of its twin): the command as
 * GET /digitaltwins/{id}/commands/{requestId} answers it, subject `commands/<requestId>`.
 */
export function commandRoutedEvent(
  c: CommandStepEvent,
  o: Pick<EventFactoryOptions, 'source' | 'newId'>,
): RoutedEvent {
  return {
    id: o.newId(),
    type: COMMAND_EVENT_TYPE[c.state],
    source: `${o.source}/digitaltwins/${encodeURIComponent(c.twinId)}`,
    subject: `commands/${c.requestId}`,
    time: c.time,
    data: c.data,
    twinId: c.twinId,
  };
}

/** The CloudEvent (structured form) of a journaled event. */
export function toCloudEvent(e: RoutedEvent): CloudEvent {
  const ce: CloudEvent = {
    specversion: '1.0',
    id: e.id,
    source: e.source,
    type: e.type,
    time: new Date(e.time).toISOString(),
    datacontenttype: 'application/json',
    data: e.data,
  };
  if (e.subject !== undefined) ce.subject = e.subject;
  if (e.dataschema !== undefined) ce.dataschema = e.dataschema;
  if (e.ext) for (const [k, v] of Object.entries(e.ext)) if (!(k in ce)) ce[k] = v;
  return ce;
}

/** What a route filter sees of an event: its CloudEvent attributes and its data as `$body`. */
export function filterInputOf(e: RoutedEvent): FilterInput {
  const attributes: Record<string, string> = {
    specversion: '1.0',
    id: e.id,
    source: e.source,
    type: e.type,
    time: new Date(e.time).toISOString(),
    datacontenttype: 'application/json',
  };
  if (e.subject !== undefined) attributes.subject = e.subject;
  if (e.dataschema !== undefined) attributes.dataschema = e.dataschema;
  if (e.ext) for (const [k, v] of Object.entries(e.ext)) if (!(k in attributes)) attributes[k] = v;
  return { attributes, body: e.data };
}
