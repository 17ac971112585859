/**
 * What ADT's routes share: the api-version check, conditional headers, the page size header and
 * ADT-style paging (`nextLink`: an absolute URL to the next page carrying an opaque continuation).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { TwinloopError, quote } from '../../core/errors/errors.js';
import type { WriteConditions } from '../../core/twins/twin-write-support.js';

/** ADT's four GA data-plane versions; the routes behave the same under each (docs/api.md). */
export const SUPPORTED_API_VERSIONS = ['2020-10-31', '2022-05-31', '2023-06-30', '2023-10-31'] as const;
export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 10_000;

/** Rejects an unsupported api-version (absent is accepted: see docs/api.md). */
export function checkApiVersion(request: FastifyRequest): void {
  const raw = (request.query as Record<string, unknown> | undefined)?.['api-version'];
  if (raw === undefined) return;
  // The SDK re-adds api-version to nextLink URLs, so it may appear twice.
  const values = Array.isArray(raw) ? raw : [raw];
  for (const v of values) {
    if (!(SUPPORTED_API_VERSIONS as readonly unknown[]).includes(v)) {
      throw new TwinloopError(
        'InvalidArgument',
        `The api-version '${quote(String(v), 40)}' is not supported. Supported versions: ${SUPPORTED_API_VERSIONS.join(', ')}.`,
        { innerCode: 'UnsupportedApiVersion' },
      );
    }
  }
}

export function header(request: FastifyRequest, name: string): string | undefined {
  const v = request.headers[name.toLowerCase()];
  return Array.isArray(v) ? v.join(',') : v;
}

export function conditions(request: FastifyRequest): WriteConditions {
  const c: WriteConditions = {};
  const ifMatch = header(request, 'if-match');
  const ifNoneMatch = header(request, 'if-none-match');
  if (ifMatch !== undefined) c.ifMatch = ifMatch;
  if (ifNoneMatch !== undefined) c.ifNoneMatch = ifNoneMatch;
  return c;
}

/** The `max-items-per-page` header, checked. */
export function pageSize(request: FastifyRequest, fallback = DEFAULT_PAGE_SIZE): number {
  const raw = header(request, 'max-items-per-page');
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < 1) {
    throw new TwinloopError(
      'InvalidArgument',
      `The max-items-per-page header must be a whole number of at least 1, not '${quote(raw, 40)}'.`,
    );
  }
  return Math.min(n, MAX_PAGE_SIZE);
}

interface ListCursor {
  /** Offset of the next item. */
  o: number;
  /** Page size. */
  n: number;
}

/** Reads `continuationToken` from the query string (offset paging of an in-memory list). */
export function readListCursor(request: FastifyRequest): ListCursor | undefined {
  const raw = (request.query as Record<string, unknown> | undefined)?.continuationToken;
  if (raw === undefined) return undefined;
  try {
    const c = JSON.parse(Buffer.from(String(raw), 'base64url').toString('utf8')) as ListCursor;
    if (Number.isSafeInteger(c.o) && c.o >= 0 && Number.isSafeInteger(c.n) && c.n >= 1) return c;
  } catch {
    // reported below
  }
  throw new TwinloopError(
    'InvalidContinuationToken',
    'The continuationToken of this list is not valid; start again from the first page.',
  );
}

/** One page of `items` as ADT answers it: `{ value, nextLink? }`. */
export function pageOf<T, R>(
  request: FastifyRequest,
  items: readonly T[],
  map: (item: T) => R,
): { value: R[]; nextLink?: string } {
  const cursor = readListCursor(request);
  const n = cursor?.n ?? pageSize(request);
  const o = cursor?.o ?? 0;
  const value = items.slice(o, o + n).map(map);
  if (o + n >= items.length) return { value };
  return {
    value,
    nextLink: nextLink(request, {
      continuationToken: Buffer.from(JSON.stringify({ o: o + n, n })).toString('base64url'),
    }),
  };
}

/** An absolute URL to the same route with `params` replacing those of the current query. */
export function nextLink(request: FastifyRequest, params: Record<string, string>): string {
  const url = new URL(request.url, `${request.protocol}://${request.host}`);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  const apiVersions = url.searchParams.getAll('api-version');
  if (apiVersions.length > 1) url.searchParams.set('api-version', apiVersions[0]!);
  return url.toString();
}

/** ADT sends the etag of the written entity in the ETag header. */
export function withEtag(reply: FastifyReply, etag: string): FastifyReply {
  return reply.header('etag', etag);
}
