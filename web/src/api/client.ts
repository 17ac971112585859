/**
 * The app's HTTP client: every call sends the token (when there is one) as `Authorization: Bearer`,
 * never in a URL; JSON in and out; an error answer becomes an ApiError with the server's code,
 * message and problems (each with its line and column for a query).
 */
import type { ErrorJson, Problem } from './types.js';

export const API_VERSION = '2023-10-31';

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly problems: readonly Problem[];
  constructor(status: number, code: string, message: string, problems: readonly Problem[] = []) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.problems = problems;
  }
}

export interface ApiClient {
  get<T>(path: string, headers?: Record<string, string>): Promise<T>;
  post<T>(path: string, body: unknown, headers?: Record<string, string>): Promise<T>;
  patch<T>(path: string, body: unknown, headers?: Record<string, string>): Promise<T>;
  del<T>(path: string, headers?: Record<string, string>): Promise<T>;
  put<T>(path: string, body: unknown, headers?: Record<string, string>): Promise<T>;
  /** The body as bytes (a 3D model), with the same token and error handling. */
  bytes(path: string): Promise<ArrayBuffer>;
}

export interface ApiClientOptions {
  /** The token to send, read at each call (undefined: none). */
  token: () => string | undefined;
  /** Told when the server answers 401 (the token is missing or wrong). */
  onUnauthorized?: () => void;
  fetch?: typeof fetch;
}

/** Reads an error answer; a body that is not the API's error shape still gives a clear message. */
export async function toApiError(res: Response): Promise<ApiError> {
  let body: unknown;
  try {
    body = await res.json();
  } catch {
    body = undefined;
  }
  const e = (body as Partial<ErrorJson> | undefined)?.error;
  if (e && typeof e.code === 'string' && typeof e.message === 'string')
    return new ApiError(res.status, e.code, e.message, Array.isArray(e.details) ? e.details : []);
  return new ApiError(res.status, `HTTP${res.status}`, `The server answered ${res.status} ${res.statusText}`);
}

export function createApiClient(o: ApiClientOptions): ApiClient {
  const doFetch = o.fetch ?? ((input, init) => fetch(input, init));
  async function call<T>(
    method: string,
    path: string,
    body?: unknown,
    extra: Record<string, string> = {},
    as: 'json' | 'bytes' = 'json',
  ) {
    const headers: Record<string, string> = { accept: as === 'json' ? 'application/json' : '*/*', ...extra };
    const token = o.token();
    if (token) headers['authorization'] = `Bearer ${token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await doFetch(path, {
      method,
      headers,
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      credentials: 'omit',
    });
    if (!res.ok) {
      if (res.status === 401) o.onUnauthorized?.();
      throw await toApiError(res);
    }
    if (res.status === 204) return undefined as T;
    if (as === 'bytes') return (await res.arrayBuffer()) as T;
    return (await res.json()) as T;
  }
  return {
    get: (path, headers) => call('GET', path, undefined, headers),
    post: (path, body, headers) => call('POST', path, body, headers),
    patch: (path, body, headers) => call('PATCH', path, body, headers),
    del: (path, headers) => call('DELETE', path, undefined, headers),
    put: (path, body, headers) => call('PUT', path, body, headers),
    bytes: (path) => call<ArrayBuffer>('GET', path, undefined, {}, 'bytes'),
  };
}

/**
 * `/digitaltwins/{id}…` with the id encoded (ids may hold any character).
 * @throws Error for the ids `.` and `..`: a URL path cannot carry them (a parser resolves them away,
 * `%2e%2e` included), so the request would reach another route.
 */
export function twinPath(id: string, rest = ''): string {
  if (id === '.' || id === '..' || /^%2e(%2e)?$/i.test(id) || /^(\.%2e|%2e\.)$/i.test(id))
    throw new Error(`The twin id '${id}' cannot be written in a URL path.`);
  return `/digitaltwins/${encodeURIComponent(id)}${rest}`;
}
