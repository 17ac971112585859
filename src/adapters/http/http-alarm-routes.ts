/**
 * Alarms over HTTP (docs/api.md, "Alarms"), Twinloop extensions (no api-version needed):
 * - GET /alarms?state=&twin=&severity=&rule=&since=&until=&limit=&continuationToken= → `{ value, nextLink? }`,
 *   newest first; `state` and `severity` take comma-separated lists (`state=open` = active,acknowledged);
 * - GET /alarms/{id};
 * - POST /alarms/{id}/ack, body `{"comment"?}` → the alarm (409 Conflict when already acknowledged);
 * - POST /alarms/{id}/clear, body `{"reason"?}` → the alarm (409 Conflict when already cleared).
 * Who acknowledged or cleared: the `Twinloop-User` header (a label the caller declares; the server
 * has one bearer token, not users), else "anonymous". Every bad parameter is reported at once.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import {
  ALARM_SEVERITY_LIST,
  ALARM_STATES,
  alarmToJson,
  type AlarmRecord,
  type AlarmSeverityName,
  type AlarmState,
} from '../../core/alarms/alarm.js';
import { TwinloopError, quote, type Problem } from '../../core/errors/errors.js';
import type { AlarmQuery } from '../../core/ports/alarm-store.js';
import { header, nextLink } from './http-adt-common.js';

/** What the routes need of the alarm service (analytics/alarms/alarm-service.ts). */
export interface HttpAlarmPort {
  get(workspace: string, id: string): Promise<AlarmRecord>;
  list(q: AlarmQuery): Promise<AlarmRecord[]>;
  ack(workspace: string, id: string, by: string, comment?: string): Promise<AlarmRecord>;
  clear(workspace: string, id: string, by: string, reason?: string): Promise<AlarmRecord>;
}

export const DEFAULT_ALARM_PAGE = 100;
export const MAX_ALARM_PAGE = 1000;
/** Longest comment or reason accepted, characters. */
export const MAX_ALARM_NOTE = 2000;
/** Longest Twinloop-User header accepted, characters. */
export const MAX_ALARM_USER = 200;

const TAGS = ['Alarms (Twinloop)'];
const idParams = { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] } as const;
const QUERY_KEYS = ['state', 'twin', 'severity', 'rule', 'since', 'until', 'limit', 'continuationToken'];

function bad(problems: Problem[], name: string, message: string): void {
  problems.push({ code: 'alarms.query', message, pointer: `/${name}`, source: 'query string' });
}

function one(q: Record<string, unknown>, name: string, problems: Problem[]): string | undefined {
  if (!Object.hasOwn(q, name)) return undefined;
  const v = q[name];
  if (typeof v === 'string') return v;
  bad(problems, name, `'${name}' must be given once.`);
  return undefined;
}

function list<T extends string>(
  raw: string | undefined,
  name: string,
  allowed: readonly T[],
  problems: Problem[],
  alias: Record<string, readonly T[]> = {},
): T[] | undefined {
  if (raw === undefined || raw === '') return undefined;
  const out = new Set<T>();
  for (const part of raw.split(',')) {
    const p = part.trim();
    if ((allowed as readonly string[]).includes(p)) out.add(p as T);
    else if (Object.hasOwn(alias, p)) for (const x of alias[p]!) out.add(x);
    else
      bad(
        problems,
        name,
        `'${quote(p, 40)}' is not a ${name}; use ${[...allowed, ...Object.keys(alias)].join(', ')}.`,
      );
  }
  return [...out];
}

function time(raw: string | undefined, name: string, problems: Problem[]): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const ms = /^-?\d{1,16}$/.test(raw) ? Number(raw) : Date.parse(raw);
  if (Number.isSafeInteger(ms)) return ms;
  bad(
    problems,
    name,
    `'${name}' must be an ISO 8601 date-time or epoch milliseconds, not '${quote(raw, 40)}'.`,
  );
  return undefined;
}

interface Position {
  f: number;
  i: string;
  n: number;
}

function position(raw: string | undefined): Position | undefined {
  if (raw === undefined) return undefined;
  try {
    const p = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Position;
    if (
      Number.isSafeInteger(p.f) &&
      typeof p.i === 'string' &&
      Number.isSafeInteger(p.n) &&
      p.n >= 1 &&
      p.n <= MAX_ALARM_PAGE
    )
      return p;
  } catch {
    // reported below
  }
  throw new TwinloopError(
    'InvalidContinuationToken',
    'The continuationToken of this list is not valid; start again from the first page.',
  );
}

/** The alarm query of GET /alarms, every problem reported at once. @throws InvalidArgument */
export function parseAlarmQuery(
  workspace: string,
  q: Record<string, unknown>,
): { query: AlarmQuery; limit: number } {
  const problems: Problem[] = [];
  const get = (name: string) => one(q, name, problems);
  const states = list<AlarmState>(get('state'), 'state', ALARM_STATES, problems, {
    open: ['active', 'acknowledged'],
  });
  const severities = list<AlarmSeverityName>(get('severity'), 'severity', ALARM_SEVERITY_LIST, problems);
  const twinId = get('twin');
  const ruleId = get('rule');
  const since = time(get('since'), 'since', problems);
  const until = time(get('until'), 'until', problems);
  let limit = DEFAULT_ALARM_PAGE;
  const rawLimit = get('limit');
  if (rawLimit !== undefined) {
    const n = Number(rawLimit);
    if (/^\d+$/.test(rawLimit) && n >= 1 && n <= MAX_ALARM_PAGE) limit = n;
    else bad(problems, 'limit', `'limit' must be a whole number from 1 to ${MAX_ALARM_PAGE}.`);
  }
  const token = get('continuationToken');
  if (problems.length)
    throw new TwinloopError(
      'InvalidArgument',
      `Invalid alarm query: ${problems.map((p) => `${p.pointer}: ${p.message}`).join(' ')}`,
      { problems },
    );
  const pos = position(token);
  if (pos) limit = pos.n;
  const query: AlarmQuery = { workspace, limit: limit + 1 };
  if (states) query.states = states;
  if (severities) query.severities = severities;
  if (twinId !== undefined && twinId !== '') query.twinId = twinId;
  if (ruleId !== undefined && ruleId !== '') query.ruleId = ruleId;
  if (since !== undefined) query.since = since;
  if (until !== undefined) query.until = until;
  if (pos) query.after = { firstTime: pos.f, id: pos.i };
  return { query, limit };
}

/** Who is acting: the Twinloop-User header, checked, else "anonymous". @throws BadRequest */
export function actingUser(req: FastifyRequest): string {
  const raw = header(req, 'twinloop-user');
  if (raw === undefined || raw.trim() === '') return 'anonymous';
  // eslint-disable-next-line no-control-regex
  if (raw.length > MAX_ALARM_USER || /[\u0000-\u001f\u007f]/.test(raw))
    throw new TwinloopError(
      'BadRequest',
      `The Twinloop-User header must be at most ${MAX_ALARM_USER} characters without control characters.`,
    );
  return raw.trim();
}

/** The optional text member of an ack or clear body. @throws BadRequest naming the member */
export function noteOf(body: unknown, member: 'comment' | 'reason'): string | undefined {
  if (body === undefined || body === null) return undefined;
  const problems: Problem[] = [];
  const at = (pointer: string, message: string) =>
    problems.push({ code: 'alarms.body', message, pointer, source: 'request body' });
  if (typeof body !== 'object' || Array.isArray(body))
    at('', `The body must be a JSON object such as {"${member}": "..."}.`);
  else {
    for (const k of Object.keys(body))
      if (k !== member)
        at(`/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`, `Unknown member; only "${member}" is allowed.`);
    const v = (body as Record<string, unknown>)[member];
    if (Object.hasOwn(body, member)) {
      if (typeof v !== 'string') at(`/${member}`, `"${member}" must be a string.`);
      else if (v.length > MAX_ALARM_NOTE)
        at(
          `/${member}`,
          `"${member}" is ${v.length} characters long; at most ${MAX_ALARM_NOTE} are allowed.`,
        );
    }
  }
  if (problems.length)
    throw new TwinloopError(
      'BadRequest',
      `Invalid body: ${problems.map((p) => `${p.pointer || '/'}: ${p.message}`).join(' ')}`,
      {
        problems,
      },
    );
  const v = (body as Record<string, unknown>)[member];
  return typeof v === 'string' ? v : undefined;
}

export function registerAlarmRoutes(app: FastifyInstance, workspace: string, alarms: HttpAlarmPort): void {
  app.get(
    '/alarms',
    {
      schema: {
        tags: TAGS,
        summary: 'Lists alarms, newest first (paged), by state, twin, severity, rule and time.',
        querystring: {
          type: 'object',
          // Untyped here: parseAlarmQuery checks them all and reports every problem at once.
          properties: Object.fromEntries(QUERY_KEYS.map((k) => [k, {}])),
        },
      },
    },
    async (req) => {
      const { query, limit } = parseAlarmQuery(workspace, (req.query ?? {}) as Record<string, unknown>);
      const rows = await alarms.list(query);
      const page = rows.slice(0, limit);
      const value = page.map(alarmToJson);
      const last = page[page.length - 1];
      if (rows.length <= limit || !last) return { value };
      const token = Buffer.from(JSON.stringify({ f: last.firstTime, i: last.id, n: limit })).toString(
        'base64url',
      );
      return { value, nextLink: nextLink(req, { continuationToken: token }) };
    },
  );

  app.get(
    '/alarms/:id',
    { schema: { tags: TAGS, summary: 'Gets an alarm.', params: idParams } },
    async (req) => alarmToJson(await alarms.get(workspace, (req.params as { id: string }).id)),
  );

  app.post(
    '/alarms/:id/ack',
    {
      schema: {
        tags: TAGS,
        summary:
          'Acknowledges an alarm (by the Twinloop-User header, else "anonymous"), with an optional comment.',
        params: idParams,
      },
    },
    async (req) => {
      const by = actingUser(req);
      const comment = noteOf(req.body, 'comment');
      return alarmToJson(await alarms.ack(workspace, (req.params as { id: string }).id, by, comment));
    },
  );

  app.post(
    '/alarms/:id/clear',
    {
      schema: {
        tags: TAGS,
        summary: 'Clears an open alarm by hand, with an optional reason.',
        params: idParams,
      },
    },
    async (req) => {
      const by = actingUser(req);
      const reason = noteOf(req.body, 'reason');
      return alarmToJson(await alarms.clear(workspace, (req.params as { id: string }).id, by, reason));
    },
  );
}
