// The two routes added for the web app, on a whole platform: GET /ingest/stats (the ingest counters
// and the server time, from which the overview computes its rate) and GET /digitaltwins/{id}/series
// (what a twin has history of, with the latest value), with hostile input.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../src/app/platform.js';
import { API, startTestPlatform, tempDataDir } from '../platform/platform-fixture.js';

let platform: Platform;
let cleanup: () => void;
let base: string;

beforeAll(async () => {
  const d = tempDataDir('twinloop-web-routes-');
  cleanup = d.cleanup;
  platform = await startTestPlatform(d.dir);
  base = platform.runtime.httpUrl;
}, 60_000);
afterAll(async () => {
  await platform.stop();
  cleanup();
});

const json = async <T>(path: string): Promise<{ status: number; body: T }> => {
  const r = await fetch(`${base}${path}`);
  return { status: r.status, body: (await r.json()) as T };
};

async function send(twin: string, body: unknown): Promise<void> {
  const r = await fetch(`${base}/digitaltwins/${encodeURIComponent(twin)}/telemetry?${API}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  expect(r.status).toBe(204);
}

interface Stats {
  time: string;
  uptimeSeconds: number;
  acceptedMessages: number;
  acceptedReadings: number;
  deadLetters: number;
  deadLettersByCode: Record<string, number>;
}

describe('GET /ingest/stats', () => {
  it('counts readings and dead letters as they come, with the server time', async () => {
    const before = (await json<Stats>('/ingest/stats')).body;
    expect(Date.parse(before.time)).toBeGreaterThan(Date.now() - 60_000);
    await send('pump-1a', { vibration: 1.5, temperature: 40 });
    await send('pump-1a', { vibration: 'not a number' });
    const after = (await json<Stats>('/ingest/stats')).body;
    expect(after.acceptedReadings - before.acceptedReadings).toBe(2);
    expect(after.deadLetters - before.deadLetters).toBe(1);
    expect(Object.values(after.deadLettersByCode).reduce((a, b) => a + b, 0)).toBe(after.deadLetters);
    expect(Date.parse(after.time)).toBeGreaterThanOrEqual(Date.parse(before.time));
  });

  it('ignores query strings and refuses other methods', async () => {
    expect((await fetch(`${base}/ingest/stats?x=%3Cscript%3E&x=1&__proto__=1`)).status).toBe(200);
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH']) {
      const r = await fetch(`${base}/ingest/stats`, {
        method,
        headers: { 'content-type': 'application/json' },
        body: '{}',
      });
      expect([404, 405], method).toContain(r.status);
    }
  });
});

describe('GET /digitaltwins/{id}/series', () => {
  it("lists the twin's telemetry with its latest value, telemetry first", async () => {
    await send('pump-1b', { vibration: 2.25 });
    await send('pump-1b', { vibration: 3.5, temperature: 41 });
    const { status, body } = await json<{
      twinId: string;
      value: { path: string; kind: string; lastTime: string; lastValue: unknown }[];
    }>('/digitaltwins/pump-1b/series');
    expect(status).toBe(200);
    expect(body.twinId).toBe('pump-1b');
    const vib = body.value.find((s) => s.path === 'vibration');
    expect(vib).toMatchObject({ kind: 'telemetry', lastValue: 3.5 });
    expect(Date.parse(vib!.lastTime)).toBeGreaterThan(Date.now() - 60_000);
    expect(body.value.find((s) => s.path === 'temperature')?.lastValue).toBe(41);
    const kinds = body.value.map((s) => s.kind);
    expect(kinds).toEqual([...kinds].sort((a, b) => (a === b ? 0 : a === 'telemetry' ? -1 : 1)));
  });

  it('is empty for a twin without history and 404 for no twin, whatever the id', async () => {
    const quiet = await json<{ value: unknown[] }>('/digitaltwins/site-lyon/series');
    expect(quiet.status).toBe(200);
    expect(Array.isArray(quiet.body.value)).toBe(true);
    for (const id of [
      'nope',
      '__proto__',
      'constructor',
      "x' OR '1'='1",
      '%00',
      '<script>alert(1)</script>',
      'a'.repeat(2000),
      'pump-1b/../pump-1a',
    ]) {
      const r = await fetch(`${base}/digitaltwins/${encodeURIComponent(id)}/series`);
      expect([400, 404], id).toContain(r.status);
      // ADT's error body (the id echoed, cut short), as JSON: never markup a browser would run.
      expect(r.headers.get('content-type'), id).toMatch(/^application\/json/);
      expect((await r.text()).length, id).toBeLessThan(2000);
    }
    // A path parameter past the router's limit is refused, not served.
    expect((await fetch(`${base}/digitaltwins/${'b'.repeat(5000)}/series`)).status).toBeLessThan(500);
  });
});
