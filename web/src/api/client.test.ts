import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ApiError, createApiClient, toApiError, twinPath } from './client.js';

describe('the API client', () => {
  it('sends the token as a header only, never in the URL', async () => {
    const seen: { url: string; headers: Record<string, string> }[] = [];
    const api = createApiClient({
      token: () => 'tl_secret',
      fetch: async (url, init) => {
        seen.push({ url: String(url), headers: init?.headers as Record<string, string> });
        return new Response('{"ok":true}', { status: 200, headers: { 'content-type': 'application/json' } });
      },
    });
    expect(await api.get('/healthz')).toEqual({ ok: true });
    await api.post('/query', { query: 'x' });
    expect(seen[0]!.headers['authorization']).toBe('Bearer tl_secret');
    expect(seen[1]!.headers['content-type']).toBe('application/json');
    for (const s of seen) expect(s.url).not.toContain('tl_secret');
  });

  it('turns error answers into ApiError with problems, and tells a 401', async () => {
    let told = 0;
    const api = createApiClient({
      token: () => undefined,
      onUnauthorized: () => told++,
      fetch: async () =>
        new Response(
          JSON.stringify({
            error: {
              code: 'SqlQueryError',
              message: 'bad',
              details: [{ code: 'query.syntax', message: 'x', line: 1, column: 8 }],
            },
          }),
          { status: 400 },
        ),
    });
    const e = (await api.get('/query').catch((x: unknown) => x)) as ApiError;
    expect(e).toBeInstanceOf(ApiError);
    expect(e.code).toBe('SqlQueryError');
    expect(e.problems[0]).toMatchObject({ line: 1, column: 8 });
    const unauthorized = createApiClient({
      token: () => undefined,
      onUnauthorized: () => told++,
      fetch: async () => new Response('not json', { status: 401, statusText: 'Unauthorized' }),
    });
    const u = (await unauthorized.get('/').catch((x: unknown) => x)) as ApiError;
    expect(u.status).toBe(401);
    expect(u.code).toBe('HTTP401');
    expect(told).toBe(1);
    expect((await toApiError(new Response('{"error":{"code":3}}', { status: 500 }))).code).toBe('HTTP500');
  });

  it('keeps any twin id inside its path segment (property), and refuses . and ..', () => {
    fc.assert(
      fc.property(fc.string({ minLength: 1 }), (id) => {
        fc.pre(!['.', '..'].includes(id) && !/^(%2e|\.){1,2}$/i.test(id));
        const u = new URL(twinPath(id, '/history'), 'http://x');
        const parts = u.pathname.split('/');
        expect(parts).toHaveLength(4);
        expect(decodeURIComponent(parts[2]!)).toBe(id);
        expect(u.search).toBe('');
      }),
      { numRuns: 500 },
    );
    for (const bad of ['.', '..', '%2e%2E', '.%2e']) expect(() => twinPath(bad)).toThrow(/cannot be written/);
  });
});
