/**
 * A caller of a started HTTP server for route tests: fetch with the bearer token, a JSON body
 * (a string body is sent as it is, for hostile bodies), extra headers; the answer's status,
 * headers and JSON (`{ text }` when the body is not JSON, `{}` when empty).
 */
export interface HttpAnswer {
  status: number;
  headers: Headers;
  json: Record<string, unknown> & { value?: Record<string, unknown>[]; nextLink?: string };
}

export type HttpCall = (
  method: string,
  path: string,
  body?: unknown,
  headers?: Record<string, string>,
) => Promise<HttpAnswer>;

/** `base()` is read at each call (the server's URL is known once it listens); `path` may be a whole URL. */
export function httpCaller(base: () => string, token: string): HttpCall {
  return async (method, path, body, headers = {}) => {
    const res = await fetch(path.startsWith('http') ? path : base() + path, {
      method,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
    });
    const text = await res.text();
    let json: HttpAnswer['json'] = {};
    try {
      json = text ? (JSON.parse(text) as HttpAnswer['json']) : {};
    } catch {
      json = { text };
    }
    return { status: res.status, headers: res.headers, json };
  };
}

/** The error code of an error answer (`{ error: { code } }`). */
export const errorCodeOf = (a: HttpAnswer): string | undefined =>
  (a.json.error as { code?: string } | undefined)?.code;
