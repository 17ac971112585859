// Authentication that nothing skips: a whole platform with a token, every registered route
// (plugins' included) × every method it has × header, query and path tricks → 401, over raw TCP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Platform } from '../../src/app/platform.js';
import { startTestPlatform, tempDataDir } from '../platform/platform-fixture.js';
import { rawRequest } from './raw-http.js';

let platform: Platform;
let cleanup: () => void;
let port: number;
let token: string;

beforeAll(async () => {
  const d = tempDataDir('twinloop-edge-auth-');
  cleanup = d.cleanup;
  platform = await startTestPlatform(d.dir, { auth: 'on' });
  token = platform.token!;
  port = Number(new URL(platform.runtime.httpUrl).port);
}, 60_000);

afterAll(async () => {
  await platform.stop();
  cleanup();
});

/** A concrete URL for a route pattern (`:id` and `*` filled in). */
function concrete(url: string): string {
  return url.replace(/:[A-Za-z]+/g, 'pump-1').replace(/\*$/, 'index.html');
}

/**
 * Routes that need no token: /healthz, and the web app's shell and hashed assets (the same for
 * everyone, no data: `/` gives its facts and its JSON only with the token, checked below).
 */
const PUBLIC_URLS = new Set(['/healthz', '/', '/app', '/app/*', '/assets/*']);
const isPublic = (method: string, url: string): boolean =>
  PUBLIC_URLS.has(url) && (method === 'GET' || method === 'HEAD');

/** Header tricks that must not stand in for the token. */
function tricks(): { name: string; headers: [string, string][]; query?: string }[] {
  const b64 = Buffer.from(`user:${token}`).toString('base64');
  return [
    { name: 'nothing', headers: [] },
    {
      name: 'a WebSocket upgrade',
      headers: [
        ['Upgrade', 'websocket'],
        ['Connection', 'Upgrade'],
        ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='],
        ['Sec-WebSocket-Version', '13'],
      ],
    },
    { name: 'Upgrade: websocket alone', headers: [['Upgrade', 'websocket']] },
    {
      name: 'Upgrade: WebSocket, Connection: keep-alive, Upgrade',
      headers: [
        ['Upgrade', 'WebSocket'],
        ['Connection', 'keep-alive, Upgrade'],
      ],
    },
    { name: '?token= outside the live upgrade', headers: [], query: `token=${token}` },
    {
      name: 'the token as a WebSocket subprotocol outside the live upgrade',
      headers: [
        [
          'Sec-WebSocket-Protocol',
          `twinloop.live, twinloop.bearer.${Buffer.from(token).toString('base64url')}`,
        ],
      ],
    },
    { name: '?access_token=', headers: [], query: `access_token=${token}` },
    { name: 'Bearer without a token', headers: [['Authorization', 'Bearer']] },
    { name: 'Bearer and spaces', headers: [['Authorization', 'Bearer   ']] },
    { name: 'a wrong token', headers: [['Authorization', 'Bearer wrong']] },
    { name: 'the token with a suffix', headers: [['Authorization', `Bearer ${token}x`]] },
    { name: 'the token twice', headers: [['Authorization', `Bearer ${token} ${token}`]] },
    { name: 'the token without a scheme', headers: [['Authorization', token]] },
    { name: 'Basic with the token', headers: [['Authorization', `Basic ${b64}`]] },
    { name: 'Token scheme', headers: [['Authorization', `Token ${token}`]] },
    {
      name: 'a token header',
      headers: [
        ['X-Api-Key', token],
        ['Token', token],
      ],
    },
    {
      name: 'X-Forwarded-* and rewrites',
      headers: [
        ['X-Forwarded-For', '127.0.0.1'],
        ['X-Forwarded-Host', 'localhost'],
        ['X-Forwarded-Proto', 'https'],
        ['X-Real-IP', '127.0.0.1'],
        ['X-Original-URL', '/healthz'],
        ['X-Rewrite-URL', '/healthz'],
        ['X-HTTP-Method-Override', 'GET'],
      ],
    },
  ];
}

describe('bearer authentication on every route', () => {
  it('the platform registers the routes of every plugin', () => {
    const urls = new Set(platform.httpRoutes.map((r) => r.url));
    for (const u of [
      '/models',
      '/digitaltwins/:id',
      '/live',
      '/simulations',
      '/digitaltwins/:id/calibrations',
      '/healthz',
    ])
      expect(urls).toContain(u);
  });

  it('answers 401 to every route × method × trick without a valid token (GET/HEAD /healthz excepted)', async () => {
    const failures: string[] = [];
    let checked = 0;
    const jobs: (() => Promise<void>)[] = [];
    for (const { method, url } of platform.httpRoutes) {
      if (isPublic(method, url)) continue;
      for (const t of tricks()) {
        jobs.push(async () => {
          const path = concrete(url) + (t.query ? `?${t.query}` : '');
          const withBody = ['POST', 'PUT', 'PATCH', 'DELETE'].includes(method);
          const headers: [string, string][] = [
            ...t.headers,
            ...(withBody ? ([['Content-Type', 'application/json']] as [string, string][]) : []),
          ];
          const r = await rawRequest(port, method, path, headers, withBody ? '[]' : undefined);
          checked++;
          if (r.status !== 401) failures.push(`${method} ${path} with ${t.name}: ${r.status}`);
          else if (r.headers['www-authenticate'] !== 'Bearer')
            failures.push(`${method} ${path}: 401 without WWW-Authenticate`);
        });
      }
    }
    for (let i = 0; i < jobs.length; i += 16) await Promise.all(jobs.slice(i, i + 16).map((j) => j()));
    expect(failures).toEqual([]);
    expect(checked).toBeGreaterThan(platform.httpRoutes.length * 10);
  }, 120_000);

  it('path tricks never reach another route without the token', async () => {
    const paths = [
      '//healthz',
      '/healthz/',
      '/healthz/..%2Fmodels',
      '/healthz/../models',
      '/healthz%2F..%2Fmodels',
      '/./models',
      '//models',
      '/models/',
      '/MODELS',
      '/%6dodels',
      '/models%00',
      '/models;healthz',
      '/healthz#/models',
      '/healthz?x',
      '/healthz?/../models',
      '/digitaltwins/pump-1%2F..%2F..%2Fhealthz',
      '/deadletters?healthz',
      '/live?token=wrong',
      `/live?token=${'x'.repeat(10)}`,
    ];
    for (const p of paths) {
      for (const method of ['GET', 'POST', 'DELETE']) {
        const r = await rawRequest(
          port,
          method,
          p,
          method === 'GET' ? [] : [['Content-Type', 'application/json']],
          method === 'GET' ? undefined : '{}',
        );
        const healthz =
          method === 'GET' && r.status === 200 && (JSON.parse(r.body) as { status?: string }).status === 'ok';
        // Either refused, or it was /healthz itself (public) answering its own document.
        expect(r.status === 401 || healthz, `${method} ${p} → ${r.status}`).toBe(true);
      }
    }
  });

  it("the web app's public routes answer no facts without the token", async () => {
    const routes = new Set(platform.httpRoutes.map((r) => `${r.method} ${r.url}`));
    // The app is built in this checkout (npm install builds it): its routes exist.
    for (const r of ['GET /', 'GET /app/*', 'GET /assets/*']) expect(routes).toContain(r);
    const shell = await rawRequest(port, 'GET', '/');
    expect(shell.status).toBe(200);
    expect(shell.headers['content-type']).toMatch(/^text\/html/);
    expect(shell.body).not.toContain(platform.runtime.mqttUrl);
    expect(shell.body).toContain('needs a token');
    const withToken = await rawRequest(port, 'GET', '/', [['Authorization', `Bearer ${token}`]]);
    expect(withToken.body).toContain(platform.runtime.mqttUrl);
    for (const t of tricks()) {
      const r = await rawRequest(port, 'GET', `/${t.query ? `?${t.query}` : ''}`, [
        ...t.headers,
        ['Accept', 'application/json'],
      ]);
      expect(r.status, `GET / as JSON with ${t.name}`).toBe(401);
    }
    const json = await rawRequest(port, 'GET', '/', [
      ['Accept', 'application/json'],
      ['Authorization', `Bearer ${token}`],
    ]);
    expect(json.status).toBe(200);
  });

  it('with the token every route is reachable (not 401), and /healthz needs none', async () => {
    expect((await rawRequest(port, 'GET', '/healthz')).status).toBe(200);
    expect((await rawRequest(port, 'HEAD', '/healthz')).status).toBe(200);
    const ok = await rawRequest(port, 'GET', '/models', [['Authorization', `Bearer ${token}`]]);
    expect(ok.status).toBe(200);
    // the refusal says where the token is (start has no --token option)
    const refused = await rawRequest(port, 'GET', '/models');
    const message = (JSON.parse(refused.body) as { error: { message: string } }).error.message;
    expect(message).toMatch(/DATA\/token/);
    expect(message).not.toMatch(/--token/);
    const lower = await rawRequest(port, 'GET', '/models', [['authorization', `bearer  ${token} `]]);
    expect(lower.status).toBe(200);
  });

  it('the /live WebSocket takes the token from ?token= or the header, and refuses an upgrade without it', async () => {
    const open = (url: string, headers: Record<string, string> = {}, protocols?: string[]): Promise<number> =>
      new Promise((resolve) => {
        const ws = new WebSocket(url, protocols, { headers });
        ws.on('open', () => {
          ws.close();
          resolve(101);
        });
        ws.on('unexpected-response', (_req, res) => {
          resolve(res.statusCode ?? 0);
          ws.terminate();
        });
        ws.on('error', () => resolve(-1));
      });
    const live = `ws://127.0.0.1:${port}/live`;
    expect(await open(live)).toBe(401);
    expect(await open(`${live}?token=wrong`)).toBe(401);
    expect(await open(`${live}?token=${token}`)).toBe(101);
    expect(await open(live, { authorization: `Bearer ${token}` })).toBe(101);
    // The web app's way: the token as a subprotocol beside twinloop.live (never in the URL).
    const bearer = (t: string) => `twinloop.bearer.${Buffer.from(t).toString('base64url')}`;
    const proto = (p: string) => ({ 'sec-websocket-protocol': p });
    expect(await open(live, {}, ['twinloop.live', bearer(token)])).toBe(101);
    expect(await open(live, proto(`twinloop.live, ${bearer('wrong')}`))).toBe(401);
    expect(await open(live, proto(`twinloop.live, ${bearer(token)}, ${bearer(token)}`))).toBe(401);
    expect(await open(live, proto(`twinloop.live, twinloop.bearer.${token}=`))).toBe(401);
    expect(await open(`${live}?token=wrong`, proto(`twinloop.live, ${bearer(token)}`))).toBe(401);
    // cross-site WebSocket hijacking: a page elsewhere may not open the stream, even with the token
    expect(await open(`${live}?token=${token}`, { origin: 'http://evil.example' })).toBe(403);
    expect(await open(`${live}?token=${token}`, { origin: `http://127.0.0.1:${port}` })).toBe(101);
    // ?token= is for /live only: an upgrade of another route with it is still 401
    const other = await rawRequest(port, 'GET', `/models?token=${token}`, [
      ['Upgrade', 'websocket'],
      ['Connection', 'Upgrade'],
      ['Sec-WebSocket-Key', 'dGhlIHNhbXBsZSBub25jZQ=='],
      ['Sec-WebSocket-Version', '13'],
    ]);
    expect(other.status).toBe(401);
  });
});
