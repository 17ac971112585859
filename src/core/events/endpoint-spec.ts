/**
 * Endpoints (a Twinloop extension: ADT manages endpoints in its control plane): where routed events
 * go. Three types:
 * - webhook: HTTP(S) POST of each CloudEvent, structured (`application/cloudevents+json`, the
 *   default) or binary (`ce-*` headers, the data as the body); an optional auth header whose value
 *   is a secret: stored, never returned, never logged;
 * - mqtt: a topic, published QoS 1 through the platform's broker (or `url`, another broker);
 * - nats: a subject, published to NATS (`url`, default the configured one); with `jetstream: true`
 *   each publish waits for the stream's ack and carries the event id as Nats-Msg-Id (deduplication);
 * - email: a mail per event through an SMTP server (`url` smtp:// or smtps://, `from`, `to`), for
 *   alarm notifications; an optional login whose password is the endpoint's secret.
 * Checked here once for the API and the config file, every problem with its pointer.
 */
import type { Problem } from '../errors/errors.js';

export type EndpointSpec =
  | {
      type: 'webhook';
      url: string;
      mode: 'structured' | 'binary';
      /** Name of the auth header (its value is the endpoint's secret). */
      authHeader?: string;
      /**
       * Events per POST, at most (Event Grid's setting of the same name). Above 1, events go as a
       * CloudEvents batch (`application/cloudevents-batch+json`, a JSON array); structured mode only.
       */
      maxEventsPerBatch?: number;
    }
  | { type: 'mqtt'; topic: string; url?: string }
  | { type: 'nats'; subject: string; url?: string; jetstream: boolean }
  | {
      type: 'email';
      /** smtp://host[:port] (STARTTLS when the server offers it) or smtps://host[:port] (TLS). */
      url: string;
      from: string;
      to: string[];
      /** SMTP login user (its password is the endpoint's secret). */
      authUser?: string;
    };

/** Most recipients of one email endpoint. */
export const MAX_EMAIL_RECIPIENTS = 50;
/** A plain address (local@domain), without display names, spaces or line breaks (no header injection). */
const EMAIL_ADDRESS =
  /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;

/** Most events one webhook request carries (Event Grid allows 5,000; a batch is held in memory). */
export const MAX_EVENTS_PER_BATCH = 1000;

export const ENDPOINT_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/;
const FORBIDDEN_HEADERS = new Set([
  'host',
  'content-length',
  'content-type',
  'transfer-encoding',
  'connection',
]);

export interface CheckedEndpoint {
  spec: EndpointSpec;
  /** The auth header's value, when given. */
  secret?: string;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Checks an endpoint body: `{ type, url | topic | subject, mode?, auth?: { header, value? }, jetstream? }`.
 * Returns the spec or every problem (pointers relative to `at`).
 */
export function checkEndpoint(body: unknown, at = ''): CheckedEndpoint | { problems: Problem[] } {
  const problems: Problem[] = [];
  const p = (pointer: string, code: string, message: string) =>
    problems.push({ code, message, pointer: at + pointer });
  if (!isObject(body)) {
    p('', 'endpoint.notObject', 'An endpoint must be a JSON object.');
    return { problems };
  }
  const known: Record<string, readonly string[]> = {
    webhook: ['type', 'name', 'url', 'mode', 'auth', 'maxEventsPerBatch'],
    mqtt: ['type', 'name', 'topic', 'url'],
    nats: ['type', 'name', 'subject', 'url', 'jetstream'],
    email: ['type', 'name', 'url', 'from', 'to', 'auth'],
  };
  const type = body.type;
  if (type !== 'webhook' && type !== 'mqtt' && type !== 'nats' && type !== 'email') {
    p('/type', 'endpoint.type', "type must be 'webhook', 'mqtt', 'nats' or 'email'.");
    return { problems };
  }
  for (const k of Object.keys(body))
    if (!known[type]!.includes(k))
      p(`/${k}`, 'endpoint.member', `'${k}' is not a setting of a ${type} endpoint.`);
  const str = (k: string, max: number): string | undefined => {
    const v = body[k];
    if (typeof v !== 'string' || v.length === 0 || v.length > max) {
      p(`/${k}`, 'endpoint.value', `${k} must be a string of 1 to ${max} characters.`);
      return undefined;
    }
    return v;
  };
  const url = (k: string, protocols: readonly string[], required: boolean): string | undefined => {
    if (!required && body[k] === undefined) return undefined;
    const v = str(k, 2048);
    if (v === undefined) return undefined;
    let u: URL;
    try {
      u = new URL(v);
    } catch {
      p(`/${k}`, 'endpoint.url', `${k} is not a URL.`);
      return undefined;
    }
    if (!protocols.includes(u.protocol))
      p(`/${k}`, 'endpoint.url', `${k} must use ${protocols.map((x) => x.replace(':', '')).join(' or ')}.`);
    // A secret in a URL is echoed and logged everywhere URLs are: it belongs in `auth`.
    else if ((type === 'webhook' || type === 'email') && (u.username || u.password))
      p(`/${k}`, 'endpoint.url', `${k} must not hold credentials: give them as auth { header, value }.`);
    return v;
  };
  if (type === 'webhook') {
    const u = url('url', ['http:', 'https:'], true);
    const mode = body.mode ?? 'structured';
    if (mode !== 'structured' && mode !== 'binary')
      p('/mode', 'endpoint.mode', "mode must be 'structured' or 'binary'.");
    const batch = body.maxEventsPerBatch === undefined ? 1 : body.maxEventsPerBatch;
    if (typeof batch !== 'number' || !Number.isInteger(batch) || batch < 1 || batch > MAX_EVENTS_PER_BATCH)
      p(
        '/maxEventsPerBatch',
        'endpoint.maxEventsPerBatch',
        `maxEventsPerBatch must be a whole number from 1 to ${MAX_EVENTS_PER_BATCH}.`,
      );
    else if (batch > 1 && mode === 'binary')
      p(
        '/maxEventsPerBatch',
        'endpoint.maxEventsPerBatch',
        'Batches are sent in structured mode only (binary mode carries one event per request).',
      );
    let authHeader: string | undefined;
    let secret: string | undefined;
    if (body.auth !== undefined) {
      const a = body.auth;
      if (!isObject(a)) p('/auth', 'endpoint.auth', 'auth must be { "header": name, "value": secret }.');
      else {
        for (const k of Object.keys(a))
          if (k !== 'header' && k !== 'value')
            p(`/auth/${k}`, 'endpoint.auth', `'${k}' is not a setting of auth.`);
        if (
          typeof a.header !== 'string' ||
          !HEADER_NAME.test(a.header) ||
          FORBIDDEN_HEADERS.has(a.header.toLowerCase())
        )
          p(
            '/auth/header',
            'endpoint.auth',
            'auth.header must be an HTTP header name (not Host, Content-Type ...).',
          );
        else authHeader = a.header;
        if (a.value !== undefined) {
          if (
            typeof a.value !== 'string' ||
            a.value.length === 0 ||
            a.value.length > 8192 ||
            /[\r\n\0]/.test(a.value)
          )
            p('/auth/value', 'endpoint.auth', 'auth.value must be 1 to 8192 characters on one line.');
          else secret = a.value;
        }
      }
    }
    if (problems.length || u === undefined) return { problems };
    const spec: EndpointSpec = { type, url: u, mode: mode as 'structured' | 'binary' };
    if (authHeader) spec.authHeader = authHeader;
    if (batch !== 1) spec.maxEventsPerBatch = batch as number;
    return secret === undefined ? { spec } : { spec, secret };
  }
  if (type === 'email') return checkEmail(body, p, url, problems);
  if (type === 'mqtt') {
    const topic = str('topic', 1024);
    if (topic !== undefined && (/[+#]/.test(topic) || topic.includes('\0')))
      p('/topic', 'endpoint.topic', 'topic must not hold the wildcards + or #.');
    const u = url('url', ['mqtt:', 'mqtts:', 'tcp:', 'ssl:', 'ws:', 'wss:'], false);
    if (problems.length || topic === undefined) return { problems };
    return { spec: u === undefined ? { type, topic } : { type, topic, url: u } };
  }
  const subject = str('subject', 512);
  if (subject !== undefined && !/^[^\s*>.]+(\.[^\s*>.]+)*$/.test(subject))
    p(
      '/subject',
      'endpoint.subject',
      'subject must be dot-separated tokens without spaces or the wildcards * and >.',
    );
  const u = url('url', ['nats:', 'tls:', 'ws:', 'wss:'], false);
  const js = body.jetstream ?? false;
  if (typeof js !== 'boolean') p('/jetstream', 'endpoint.jetstream', 'jetstream must be true or false.');
  if (problems.length || subject === undefined) return { problems };
  const spec: EndpointSpec = { type, subject, jetstream: js as boolean };
  if (u !== undefined) spec.url = u;
  return { spec };
}

/** The email endpoint's settings: addresses checked one by one, the login's password as the secret. */
function checkEmail(
  body: Record<string, unknown>,
  p: (pointer: string, code: string, message: string) => void,
  url: (k: string, protocols: readonly string[], required: boolean) => string | undefined,
  problems: Problem[],
): CheckedEndpoint | { problems: Problem[] } {
  let bad = problems.length > 0; // unknown members, reported before
  const report = (pointer: string, code: string, message: string): void => {
    bad = true;
    p(pointer, code, message);
  };
  const u = url('url', ['smtp:', 'smtps:'], true);
  if (u === undefined) bad = true;
  const address = (v: unknown, pointer: string): string | undefined => {
    if (typeof v === 'string' && v.length <= 254 && EMAIL_ADDRESS.test(v)) return v;
    report(pointer, 'endpoint.email', `${pointer.slice(1)} must be an email address like ops@example.com.`);
    return undefined;
  };
  const from = address(body.from, '/from');
  const to: string[] = [];
  if (!Array.isArray(body.to) || body.to.length === 0 || body.to.length > MAX_EMAIL_RECIPIENTS)
    report('/to', 'endpoint.email', `to must be a list of 1 to ${MAX_EMAIL_RECIPIENTS} email addresses.`);
  else
    body.to.forEach((v, i) => {
      const a = address(v, `/to/${i}`);
      if (a !== undefined) to.push(a);
    });
  let authUser: string | undefined;
  let secret: string | undefined;
  if (body.auth !== undefined) {
    const a = body.auth;
    if (!isObject(a)) report('/auth', 'endpoint.auth', 'auth must be { "user": name, "value": password }.');
    else {
      for (const k of Object.keys(a))
        if (k !== 'user' && k !== 'value')
          report(`/auth/${k}`, 'endpoint.auth', `'${k}' is not a setting of auth.`);
      if (typeof a.user !== 'string' || a.user.length === 0 || a.user.length > 256 || /[\r\n\0]/.test(a.user))
        report('/auth/user', 'endpoint.auth', 'auth.user must be 1 to 256 characters on one line.');
      else authUser = a.user;
      if (a.value !== undefined) {
        if (
          typeof a.value !== 'string' ||
          a.value.length === 0 ||
          a.value.length > 1024 ||
          /[\r\n\0]/.test(a.value)
        )
          report('/auth/value', 'endpoint.auth', 'auth.value must be 1 to 1024 characters on one line.');
        else secret = a.value;
      }
    }
  }
  if (bad || u === undefined || from === undefined) return { problems };
  const spec: EndpointSpec = { type: 'email', url: u, from, to };
  if (authUser !== undefined) spec.authUser = authUser;
  return secret === undefined ? { spec } : { spec, secret };
}

/** The endpoint as the API shows it: never its secret. */
export function endpointView(
  name: string,
  spec: EndpointSpec,
  hasSecret: boolean,
  origin: 'config' | 'api',
): Record<string, unknown> {
  const { authHeader, authUser, ...rest } = spec as EndpointSpec & { authHeader?: string; authUser?: string };
  const view: Record<string, unknown> = { name, ...rest, origin };
  if (authHeader !== undefined) view.auth = { header: authHeader, value: hasSecret ? '(secret)' : null };
  if (authUser !== undefined) view.auth = { user: authUser, value: hasSecret ? '(secret)' : null };
  return view;
}
