// The web app's routes on a Fastify server with the platform's edge guard (a token set), the app
// read from a folder made here like Vite's output: what is served, cached and compressed, what a
// request without the token sees, and hostile asset paths.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import Fastify from 'fastify';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { installEdgeGuard } from './http-edge-guard.js';
import { installErrorHandlers } from './http-errors.js';
import { bootHtml, homePlugin } from './http-home-routes.js';
import { acceptsGzip, BOOT_MARKER, loadWebApp, registerWebAppRoutes, WEB_APP_CSP } from './http-web-app.js';

const TOKEN = 'tl_test-token-0123456789';
const dir = mkdtempSync(path.join(tmpdir(), 'twinloop-webapp-'));
const bigJs = `console.log(${JSON.stringify('x'.repeat(5000))});\n`;
writeFileSync(
  path.join(dir, 'index.html'),
  `<!doctype html><html><head><script type="module" src="/assets/index-abc.js"></script></head><body><div id="root">${BOOT_MARKER}</div></body></html>`,
);
mkdirSync(path.join(dir, 'assets', 'nested'), { recursive: true });
writeFileSync(path.join(dir, 'assets', 'index-abc.js'), bigJs);
writeFileSync(path.join(dir, 'assets', 'index-abc.css'), 'body{color:red}');
writeFileSync(path.join(dir, 'assets', 'nested', 'a.svg'), '<svg/>');
writeFileSync(path.join(dir, 'secret.txt'), 'not an asset');

const files = loadWebApp(dir)!;
const app = Fastify();
let base = '';
beforeAll(async () => {
  installErrorHandlers(app);
  installEdgeGuard(app, { token: TOKEN, host: '127.0.0.1', tls: false, boundPort: () => undefined });
  registerWebAppRoutes(app, files);
  await app.register(
    homePlugin({
      webApp: files,
      info: () => ({
        pilot: 'pump-line<script>',
        twins: 12,
        models: 6,
        mqttUrl: 'mqtt://127.0.0.1:1884',
        shadow: true,
        auth: true,
        exampleTwin: 'pump-1a',
      }),
    }),
  );
  base = await app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await app.close();
  rmSync(dir, { recursive: true, force: true });
});

const auth = { authorization: `Bearer ${TOKEN}` };

describe('the web app served by the platform', () => {
  it('reads a built app, or nothing when there is none, and refuses a shell without its marker', () => {
    expect([...files.assets.keys()].sort()).toEqual(['index-abc.css', 'index-abc.js', 'nested/a.svg']);
    expect(files.assets.get('index-abc.js')!.gzip).toBeDefined(); // large enough to compress
    expect(files.assets.get('index-abc.css')!.gzip).toBeUndefined();
    expect(loadWebApp(path.join(dir, 'none'))).toBeUndefined();
    const broken = mkdtempSync(path.join(tmpdir(), 'twinloop-webapp-broken-'));
    writeFileSync(path.join(broken, 'index.html'), '<html></html>');
    expect(() => loadWebApp(broken)).toThrow(/marker/);
    rmSync(broken, { recursive: true });
  });

  it('serves the shell at / without a token, but its facts only with it', async () => {
    const anon = await fetch(`${base}/`);
    expect(anon.status).toBe(200);
    expect(anon.headers.get('content-security-policy')).toBe(WEB_APP_CSP);
    expect(anon.headers.get('cache-control')).toBe('no-cache');
    expect(anon.headers.get('x-frame-options')).toBe('DENY');
    const anonHtml = await anon.text();
    expect(anonHtml).not.toContain('1884');
    expect(anonHtml).toContain('needs a token');
    expect(anonHtml).not.toContain(BOOT_MARKER);
    const html = await (await fetch(`${base}/`, { headers: auth })).text();
    expect(html).toContain('mosquitto_pub -p 1884');
    expect(html).toContain('pump-line&lt;script&gt;');
    expect(html).not.toContain('pump-line<script>');
    // JSON: the token or 401.
    expect((await fetch(`${base}/`, { headers: { accept: 'application/json' } })).status).toBe(401);
    const json = await fetch(`${base}/`, { headers: { accept: 'application/json', ...auth } });
    expect(((await json.json()) as { commands: string[] }).commands.join('\n')).toContain('-p 1884');
  });

  it('serves the shell for client routes and HEAD', async () => {
    for (const p of ['/app', '/app/explorer', '/app/twin?id=%2e%2e', '/app/a/b/c']) {
      const r = await fetch(`${base}${p}`);
      expect(r.status, p).toBe(200);
      expect(await r.text()).toContain('<div id="root">');
    }
    expect((await fetch(`${base}/app/x`, { method: 'HEAD' })).status).toBe(200);
  });

  it('serves hashed assets with their type, cached for good, gzipped when the client takes it', async () => {
    const gz = await fetch(`${base}/assets/index-abc.js`, { headers: { 'accept-encoding': 'gzip' } });
    expect(gz.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(gz.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect(gz.headers.get('vary')).toBe('accept-encoding');
    expect(await gz.text()).toBe(bigJs); // fetch decodes it
    const raw = await app.inject({ url: '/assets/index-abc.js', headers: { 'accept-encoding': 'gzip' } });
    expect(raw.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(raw.rawPayload).toString()).toBe(bigJs);
    const plain = await app.inject({
      url: '/assets/index-abc.js',
      headers: { 'accept-encoding': 'identity' },
    });
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.body).toBe(bigJs);
    expect((await fetch(`${base}/assets/nested/a.svg`)).headers.get('content-type')).toBe('image/svg+xml');
  });

  it('answers 404 to anything but an asset by its exact name (hostile paths)', async () => {
    const hostile = [
      '/assets/',
      '/assets/../secret.txt',
      '/assets/%2e%2e/secret.txt',
      '/assets/..%2fsecret.txt',
      '/assets/nested/../../secret.txt',
      '/assets/index-abc.js%00.png',
      '/assets/INDEX-ABC.JS',
      '/assets//index-abc.js',
      '/assets/index-abc.js/',
      `/assets/${'a'.repeat(5000)}`,
      '/assets/%ff%fe',
      '/assets/<script>alert(1)</script>',
    ];
    for (const p of hostile) {
      const r = await app.inject({ url: p });
      expect(r.statusCode, p).toBeGreaterThanOrEqual(400);
      expect(r.statusCode, p).toBeLessThan(500);
      expect(r.body, p).not.toContain('not an asset');
      expect(r.body, p).not.toContain('<script>alert');
    }
    await fc.assert(
      fc.asyncProperty(fc.string(), async (name) => {
        const r = await app.inject({ url: `/assets/${encodeURIComponent(name)}` });
        if (files.assets.has(name)) expect(r.statusCode).toBe(200);
        else expect([400, 404]).toContain(r.statusCode);
      }),
      { numRuns: 200 },
    );
  });

  it('reads Accept-Encoding as written, whatever it holds', () => {
    expect(acceptsGzip('gzip, deflate, br')).toBe(true);
    expect(acceptsGzip('br;q=1, gzip;q=0.5')).toBe(true);
    expect(acceptsGzip('*')).toBe(true);
    expect(acceptsGzip('gzip;q=0')).toBe(false);
    expect(acceptsGzip('gzip;q=0.0, br')).toBe(false);
    expect(acceptsGzip('identity')).toBe(false);
    expect(acceptsGzip('x-gzip')).toBe(false);
    expect(acceptsGzip(undefined)).toBe(false);
    expect(acceptsGzip(['gzip'])).toBe(false);
    fc.assert(fc.property(fc.string(), (s) => typeof acceptsGzip(s) === 'boolean'));
  });

  it('escapes every fact in the boot content (property)', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), (a, b) => {
        const html = bootHtml({
          pilot: `<i>${a}`,
          twins: 1,
          models: 1,
          mqttUrl: `<u>${b}`,
          shadow: false,
          auth: false,
          liveUrl: 'ws://x/live',
          exampleTwin: `<s>${a}'`,
        });
        expect(html).not.toMatch(/<i>|<u>|<s>|<script/i);
      }),
    );
  });
});
