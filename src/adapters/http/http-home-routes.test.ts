import Fastify from 'fastify';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { escapeHtml, homeHtml, homePlugin, type HomeInfo } from './http-home-routes.js';

const info: HomeInfo = {
  pilot: 'pump-line',
  twins: 12,
  models: 6,
  mqttUrl: 'mqtt://127.0.0.1:1884',
  simulator: { assets: 9, speed: 60 },
  shadow: true,
  auth: false,
  exampleTwin: 'pump-1a',
};

const app = Fastify();
let base = '';
beforeAll(async () => {
  await app.register(homePlugin({ info: () => info }));
  base = await app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(() => app.close());

describe('GET /, the home page', () => {
  it('is an HTML page saying what runs, with the MQTT port actually bound and links to the docs', async () => {
    const res = await fetch(`${base}/`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    expect(res.headers.get('content-security-policy')).toContain("default-src 'none'");
    const html = await res.text();
    expect(html).toContain('Twinloop is running');
    expect(html).toContain('pump-line: 6 models, 12 twins');
    expect(html).toContain('9 simulated devices');
    expect(html).toContain('mosquitto_pub -p 1884');
    expect(html).toContain('href="/docs"');
    expect(html).toContain(`ws://${new URL(base).host}/live`);
    expect(html).toContain('A five-minute walk-through');
    // Nothing loaded from anywhere.
    expect(html).not.toMatch(/<script|<link|<img|src=|url\(/i);
  });

  it('answers JSON to a client that asks for it', async () => {
    const res = await fetch(`${base}/`, { headers: { accept: 'application/json' } });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(await res.json()).toMatchObject({
      name: 'Twinloop',
      pilot: 'pump-line',
      mqttUrl: 'mqtt://127.0.0.1:1884',
      links: { docs: '/docs' },
    });
    // A browser (text/html first) and curl (*/*) get the page.
    const page = await fetch(`${base}/`, { headers: { accept: 'text/html,application/json;q=0.9' } });
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect((await fetch(`${base}/`, { headers: { accept: '*/*' } })).headers.get('content-type')).toMatch(
      /^text\/html/,
    );
  });

  it('escapes every value it shows (property: hostile pilot names, URLs and twin ids)', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.string(), (a, b, c) => {
        // Each value carries a tag of its own: none may reach the page as markup.
        const [pilot, twin, mqtt] = [`<i>${a}`, `<u>${b}"`, `<s>${c}'`];
        const html = homeHtml({ ...info, pilot, exampleTwin: twin, mqttUrl: mqtt, liveUrl: 'ws://x/live' });
        expect(html).not.toMatch(/<i>|<u>|<s>/);
        expect(html.match(/<script/gi)).toBeNull();
      }),
    );
    fc.assert(
      fc.property(fc.string(), (s) => {
        const unescaped = escapeHtml(s)
          .replace(/&lt;/g, '<')
          .replace(/&gt;/g, '>')
          .replace(/&quot;/g, '"')
          .replace(/&#39;/g, "'")
          .replace(/&amp;/g, '&');
        expect(unescaped).toBe(s);
        expect(escapeHtml(s)).not.toMatch(/[<>"']/);
      }),
    );
    expect(escapeHtml(`<script>alert("x")</script>&'`)).toBe(
      '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;',
    );
  });
});
