/**
 * What a live subscription asks for, and how one event is tested against it. Pure: the hub
 * (live-hub.ts) keeps the state (query membership sets, model memo) and calls these helpers.
 */
import type { LiveEvent } from './live-events.js';
import type { Problem } from '../errors/errors.js';
import { TwinloopError } from '../errors/errors.js';

/** The event families a subscriber can choose between. */
export type LiveEventKind = 'telemetry' | 'propertyChange' | 'lifecycle' | 'alarm' | 'command' | 'device';

export const LIVE_EVENT_KINDS: readonly LiveEventKind[] = [
  'telemetry',
  'propertyChange',
  'lifecycle',
  'alarm',
  'command',
  'device',
];

/** What a subscription that names no `types` gets: alarms, commands and the device side only when asked for. */
export const DEFAULT_LIVE_EVENT_KINDS: readonly LiveEventKind[] = [
  'telemetry',
  'propertyChange',
  'lifecycle',
];

/** Which twins a subscription follows: a list of ids, every twin of a model, or the twins a query selects. */
export type LiveFilter =
  | { kind: 'twinIds'; twinIds: readonly string[] }
  | { kind: 'model'; model: string; exact: boolean }
  | { kind: 'query'; query: string };

/** One subscription of one session, as validated. */
export interface LiveSubscriptionSpec {
  /** Client-chosen id, unique within its session; echoed as `sub` in event frames. */
  id: string;
  workspace: string;
  filter: LiveFilter;
  /** Event kinds delivered (DEFAULT_LIVE_EVENT_KINDS when the client names none). */
  types: ReadonlySet<LiveEventKind>;
}

/**
 * A membership change of a query subscription: the twin started or stopped satisfying the query.
 * Delivered in the same `events` array as LiveEvents, never coalesced.
 */
export interface LiveMembershipEvent {
  type: 'membership';
  workspace: string;
  twinId: string;
  /** The twin's model, when the event that changed the membership was about this twin. */
  modelId?: string;
  member: boolean;
  time: number;
}

/** What a subscriber receives: committed events, plus membership changes for query subscriptions. */
export type LiveDelivered = LiveEvent | LiveMembershipEvent;

/** The family of an event type, for the `types` filter. */
export function eventKind(e: LiveDelivered): LiveEventKind {
  if (e.type === 'telemetry') return 'telemetry';
  if (e.type === 'propertyChange') return 'propertyChange';
  if (e.type === 'alarm') return 'alarm';
  if (e.type === 'command') return 'command';
  if (e.type === 'connection' || e.type === 'reported' || e.type === 'desiredState') return 'device';
  return 'lifecycle';
}

/** True for events that may be merged with a later one of the same twin (telemetry, property changes). */
export function isMergeable(
  e: LiveDelivered,
): e is Extract<LiveEvent, { type: 'telemetry' | 'propertyChange' }> {
  return e.type === 'telemetry' || e.type === 'propertyChange';
}

const DTMI =
  /^dtmi:[A-Za-z](?:[A-Za-z0-9_]*[A-Za-z0-9])?(?::[A-Za-z_](?:[A-Za-z0-9_]*[A-Za-z0-9])?)*(?:;[1-9][0-9]{0,8}(?:\.[1-9][0-9]{0,5})?)?$/;

export interface ParseSubscriptionOptions {
  /** Workspace used when the message names none. */
  defaultWorkspace: string;
  /** Most twin ids one subscription may list. */
  maxTwinIds: number;
  /** Longest query text accepted, in characters. */
  maxQueryLength: number;
}

/**
 * Validates a client's subscribe message (already JSON-parsed) into a LiveSubscriptionSpec,
 * reporting every problem at once with a JSON pointer into the message.
 *
 * @example parseSubscription({ op: 'subscribe', id: 's1', twinIds: ['pump-1'] }, opts)
 * @throws TwinloopError('BadRequest') listing each problem.
 */
export function parseSubscription(
  msg: Record<string, unknown>,
  opts: ParseSubscriptionOptions,
): LiveSubscriptionSpec {
  const problems: Problem[] = [];
  const bad = (pointer: string, message: string): void => {
    problems.push({ code: 'live.subscribe.invalid', pointer, message, source: 'subscribe message' });
  };

  const id = msg['id'];
  if (typeof id !== 'string' || id.length === 0 || id.length > 128)
    bad('/id', 'id must be a non-empty string of at most 128 characters');

  let workspace = opts.defaultWorkspace;
  if (msg['workspace'] !== undefined) {
    if (typeof msg['workspace'] !== 'string' || msg['workspace'] === '')
      bad('/workspace', 'workspace must be a non-empty string');
    else workspace = msg['workspace'];
  }

  const given = (['twinIds', 'model', 'query'] as const).filter((k) => msg[k] !== undefined);
  let filter: LiveFilter | undefined;
  if (given.length !== 1) {
    bad(
      '',
      `exactly one of twinIds, model or query is required (got ${given.length === 0 ? 'none' : given.join(', ')})`,
    );
  } else if (given[0] === 'twinIds') {
    const ids = msg['twinIds'];
    if (!Array.isArray(ids) || ids.length === 0)
      bad('/twinIds', 'twinIds must be a non-empty array of strings');
    else if (ids.length > opts.maxTwinIds)
      bad('/twinIds', `twinIds lists ${ids.length} ids; at most ${opts.maxTwinIds} are allowed`);
    else {
      ids.forEach((t, i) => {
        if (typeof t !== 'string' || t === '') bad(`/twinIds/${i}`, 'a twin id must be a non-empty string');
      });
      filter = { kind: 'twinIds', twinIds: [...new Set(ids as string[])] };
    }
  } else if (given[0] === 'model') {
    const model = msg['model'];
    const exact = msg['exact'];
    if (typeof model !== 'string' || !DTMI.test(model))
      bad('/model', 'model must be a DTMI such as "dtmi:com:example:Pump;1"');
    if (exact !== undefined && typeof exact !== 'boolean') bad('/exact', 'exact must be a boolean');
    filter = { kind: 'model', model: String(model), exact: exact === true };
  } else {
    const query = msg['query'];
    if (typeof query !== 'string' || query.trim() === '') bad('/query', 'query must be a non-empty string');
    else if (query.length > opts.maxQueryLength)
      bad('/query', `query is ${query.length} characters long; at most ${opts.maxQueryLength} are allowed`);
    else filter = { kind: 'query', query };
  }

  let types = new Set<LiveEventKind>(DEFAULT_LIVE_EVENT_KINDS);
  const t = msg['types'];
  if (t !== undefined) {
    if (!Array.isArray(t) || t.length === 0)
      bad('/types', `types must be a non-empty array of ${LIVE_EVENT_KINDS.join(', ')}`);
    else {
      types = new Set();
      t.forEach((k, i) => {
        if (typeof k === 'string' && (LIVE_EVENT_KINDS as readonly string[]).includes(k))
          types.add(k as LiveEventKind);
        else
          bad(
            `/types/${i}`,
            `unknown event type ${JSON.stringify(k)}; expected one of ${LIVE_EVENT_KINDS.join(', ')}`,
          );
      });
    }
  }

  if (problems.length > 0 || filter === undefined) {
    throw new TwinloopError(
      'BadRequest',
      `Invalid subscribe message: ${problems.map((p) => `${p.pointer || '/'}: ${p.message}`).join('; ')}`,
      {
        problems,
      },
    );
  }
  return { id: id as string, workspace, filter, types };
}
