/**
 * The ADT conformance suite's harness (not a test): what a check is, how its expectation is compared
 * with what the server answered, and a raw REST client that calls the API the way the .NET and Python
 * SDKs do. Every check names where its expectation comes from (`source`): the 2023-10-31 data-plane
 * spec (operation id), or a learn.microsoft.com page and section. Expectations come from those
 * sources, never from Twinloop's implementation.
 */
import { isDeepStrictEqual } from 'node:util';
import type { DigitalTwinsClient } from '@azure/digital-twins-core';

export const AREAS = [
  'api-versions',
  'models',
  'twins',
  'components',
  'relationships',
  'query',
  'telemetry',
  'event-routes',
  'import-jobs',
  'delete-jobs',
  'errors',
] as const;
export type Area = (typeof AREAS)[number];

/**
 * The api-version the spec file is for; what raw REST checks send unless a check says otherwise, and
 * the default of the .NET SDK (Azure.DigitalTwins.Core, ServiceVersion.V2023_10_31).
 */
export const SPEC_VERSION = '2023-10-31';
/** The four GA data-plane versions (azure-rest-api-specs, digitaltwins/data-plane/DigitalTwins/stable/). */
/** No request may stall the suite: a server that does not answer fails the check. */
export const REQUEST_TIMEOUT_MS = 30_000;
/** A whole check (setup included, job polling included). */
export const CHECK_TIMEOUT_MS = 120_000;

export const GA_VERSIONS = ['2020-10-31', '2022-05-31', '2023-06-30', '2023-10-31'] as const;

export interface Check {
  area: Area;
  /** How the operation is driven: the official JS SDK, or raw REST as the .NET and Python SDKs send it. */
  via: 'sdk' | 'rest';
  name: string;
  /** Where the expectation comes from: `spec:<operationId>` or `learn:<page>#<section>`. */
  source: string;
  run(ctx: CheckContext): Promise<void>;
}

export interface CheckResult {
  area: Area;
  via: 'sdk' | 'rest';
  name: string;
  source: string;
  pass: boolean;
  expected?: string;
  got?: string;
  ms: number;
}

/** A failed expectation: what the source says, and what the server did. */
export class Mismatch extends Error {
  constructor(
    readonly expected: string,
    readonly got: string,
  ) {
    super(`expected ${expected}; got ${got}`);
  }
}

export interface CheckContext {
  rest: Rest;
  sdk: DigitalTwinsClient;
  /** Names of things this run owns, unique per run (twin ids, model ids, job ids). */
  readonly run: string;
  /** Shared setup, run once per key; a failed setup fails every check that needs it. */
  once(key: string, setup: () => Promise<void>): Promise<void>;
  /** The runner's local "blob" server: puts a file there and answers its URL (import jobs). */
  blob(name: string, text: string): Promise<{ inputUri: string; outputUri: string }>;
  /** The event-route endpoint name the server has (declared by config; see docs/migrating-from-adt.md). */
  readonly endpoint: string;
  /** What the runner's webhook receiver got so far (when the config routes an endpoint there). */
  webhookEvents(): Promise<{ headers: Record<string, unknown>; body: string }[]>;
  /** The URL of that receiver (what a config file gets as ${CONFORMANCE_WEBHOOK_URL}). */
  readonly webhookUrl: string;
}

export function show(v: unknown): string {
  if (v === undefined) return 'undefined';
  const s = typeof v === 'string' ? JSON.stringify(v) : JSON.stringify(v);
  return s.length > 300 ? `${s.slice(0, 300)}…` : s;
}

export function expectEq(what: string, expected: unknown, got: unknown): void {
  if (!isDeepStrictEqual(expected, got)) throw new Mismatch(`${what} = ${show(expected)}`, show(got));
}

export function expectTrue(what: string, ok: boolean, got: unknown): void {
  if (!ok) throw new Mismatch(what, show(got));
}

/** Same members, any order. */
export function expectSet(what: string, expected: readonly string[], got: readonly string[]): void {
  const a = [...expected].sort();
  const b = [...got].sort();
  if (!isDeepStrictEqual(a, b)) throw new Mismatch(`${what} = ${show(a)}`, show(b));
}

export interface RestResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed body, or undefined when it is empty or not JSON. */
  body: unknown;
}

export function expectStatus(res: RestResponse, status: number): void {
  if (res.status !== status)
    throw new Mismatch(`HTTP ${status}`, `HTTP ${res.status} ${res.text.slice(0, 200)}`);
}

/** An ADT error: the status, and the code both in the x-ms-error-code header and in the body's error.code. */
export function expectError(res: RestResponse, status: number, code: string | readonly string[]): void {
  const codes = typeof code === 'string' ? [code] : code;
  const header = res.headers.get('x-ms-error-code') ?? undefined;
  const bodyCode = (res.body as { error?: { code?: unknown } } | undefined)?.error?.code;
  const ok =
    res.status === status &&
    header !== undefined &&
    codes.includes(header) &&
    typeof bodyCode === 'string' &&
    bodyCode === header;
  if (!ok)
    throw new Mismatch(
      `HTTP ${status} ${codes.join(' or ')} (x-ms-error-code header and body error.code)`,
      `HTTP ${res.status} header=${header ?? '-'} body.error.code=${show(bodyCode)}`,
    );
}

/** What the SDK throws (core-http RestError): the status and the body's error code. */
export async function expectSdkError(p: Promise<unknown>, status: number, code?: string): Promise<void> {
  try {
    await p;
  } catch (e) {
    const x = e as { statusCode?: number; code?: string; message?: string };
    if (x.statusCode === status && (code === undefined || x.code === code)) return;
    throw new Mismatch(
      `RestError ${status}${code ? ` ${code}` : ''}`,
      `${x.statusCode ?? 'no status'} ${x.code ?? ''} ${x.message?.slice(0, 150) ?? ''}`,
    );
  }
  throw new Mismatch(`RestError ${status}${code ? ` ${code}` : ''}`, 'success');
}

/** A path with every interpolated value percent-encoded as one segment. */
export function p(strings: TemplateStringsArray, ...values: unknown[]): string {
  return strings.reduce(
    (acc, s, i) => acc + s + (i < values.length ? encodeURIComponent(String(values[i])) : ''),
    '',
  );
}

export interface RestOptions {
  /** Sent as JSON unless `raw` is given. */
  body?: unknown;
  /** Sent as is (with contentType). */
  raw?: string;
  contentType?: string;
  headers?: Record<string, string>;
  /** Query parameters besides api-version (arrays repeat the parameter, as `collectionFormat: multi`). */
  query?: Record<string, string | string[] | number | boolean>;
  /** null sends no api-version. */
  apiVersion?: string | null;
}

/** Raw REST as the .NET and Python SDKs call it: bearer token, api-version in the query, JSON bodies. */
export class Rest {
  constructor(
    readonly base: string,
    readonly token: string,
    readonly apiVersion: string = SPEC_VERSION,
  ) {}

  url(path: string, o: RestOptions = {}): string {
    const u = new URL(path, this.base);
    const v = o.apiVersion === undefined ? this.apiVersion : o.apiVersion;
    if (v !== null) u.searchParams.set('api-version', v);
    for (const [k, val] of Object.entries(o.query ?? {}))
      for (const one of Array.isArray(val) ? val : [val]) u.searchParams.append(k, String(one));
    return u.toString();
  }

  async call(method: string, path: string, o: RestOptions = {}): Promise<RestResponse> {
    return this.fetchUrl(method, this.url(path, o), o);
  }

  async fetchUrl(method: string, url: string, o: RestOptions = {}): Promise<RestResponse> {
    const headers: Record<string, string> = { authorization: `Bearer ${this.token}`, ...o.headers };
    let body: string | undefined;
    if (o.raw !== undefined) {
      body = o.raw;
      headers['content-type'] = o.contentType ?? 'application/json';
    } else if (o.body !== undefined) {
      body = JSON.stringify(o.body);
      headers['content-type'] = o.contentType ?? 'application/json';
    }
    const res = await fetch(url, {
      method,
      headers,
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      ...(body !== undefined ? { body } : {}),
    });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, headers: res.headers, text, body: parsed };
  }

  get(path: string, o?: RestOptions): Promise<RestResponse> {
    return this.call('GET', path, o);
  }
  put(path: string, body: unknown, o: RestOptions = {}): Promise<RestResponse> {
    return this.call('PUT', path, { ...o, body });
  }
  post(path: string, body: unknown, o: RestOptions = {}): Promise<RestResponse> {
    return this.call('POST', path, { ...o, body });
  }
  /** JSON Patch, with the content type the spec's `consumes` names. */
  patch(path: string, ops: unknown, o: RestOptions = {}): Promise<RestResponse> {
    return this.call('PATCH', path, { ...o, body: ops, contentType: 'application/json-patch+json' });
  }
  delete(path: string, o?: RestOptions): Promise<RestResponse> {
    return this.call('DELETE', path, o);
  }
}

/** Runs checks one after another (they share one server) and times each. */
export async function runChecks(checks: readonly Check[], ctx: CheckContext): Promise<CheckResult[]> {
  const out: CheckResult[] = [];
  for (const c of checks) {
    const t0 = performance.now();
    const base = { area: c.area, via: c.via, name: c.name, source: c.source };
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        c.run(ctx),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Mismatch(`an answer within ${CHECK_TIMEOUT_MS} ms`, 'no answer')),
            CHECK_TIMEOUT_MS,
          );
        }),
      ]);
      out.push({ ...base, pass: true, ms: performance.now() - t0 });
    } catch (e) {
      const r: CheckResult = { ...base, pass: false, ms: performance.now() - t0 };
      if (e instanceof Mismatch) {
        r.expected = e.expected;
        r.got = e.got;
      } else {
        r.expected = 'no exception';
        r.got = (e as Error)?.message ?? String(e);
      }
      out.push(r);
    } finally {
      clearTimeout(timer);
    }
  }
  return out;
}

/** A context's `once`: memoised setups whose failure is remembered. */
export function onceMap(): (key: string, setup: () => Promise<void>) => Promise<void> {
  const done = new Map<string, Promise<void>>();
  return (key, setup) => {
    let p = done.get(key);
    if (!p) {
      p = setup().catch((e: unknown) => {
        throw new Error(`setup '${key}' failed: ${e instanceof Mismatch ? e.message : (e as Error).message}`);
      });
      done.set(key, p);
    }
    return p;
  };
}

/** Polls until `done` answers true or the time runs out. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T>,
  done: (v: T) => boolean,
  ms = 20_000,
): Promise<T> {
  const end = Date.now() + ms;
  let last: T = await probe();
  while (!done(last)) {
    if (Date.now() > end) throw new Mismatch(what, `still ${show(last)} after ${ms} ms`);
    await new Promise((r) => setTimeout(r, 100));
    last = await probe();
  }
  return last;
}
