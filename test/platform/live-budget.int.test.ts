/**
 * A live JOIN/MATCH subscription is evaluated synchronously on the stream's drain, so it runs under
 * its own, smaller visit budget (query.liveMaxVisits), while the same query as a request (in slices)
 * keeps the request budget (query.maxVisits).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import WebSocket from 'ws';
import { cliLayer, resolveConfig } from '../../src/app/config.js';
import { startPlatform, type Platform } from '../../src/app/platform.js';
import { API, tempDataDir } from './platform-fixture.js';

const PUMP = 'dtmi:twinloop:pumpline:Pump;1';
const HEAVY = 'SELECT b FROM DIGITALTWINS MATCH (a)-[*]-(b)';

describe('live subscriptions have their own visit budget', () => {
  const data = tempDataDir();
  let p: Platform;
  let base: string;

  beforeAll(async () => {
    const config = resolveConfig([
      { query: { liveMaxVisits: 1000 } } as never,
      cliLayer({
        data: data.dir,
        httpPort: '0',
        mqttPort: '0',
        logLevel: 'silent',
        sim: 'off',
        shadow: 'off',
      }),
    ]);
    p = await startPlatform(config, { logger: pino({ level: 'silent' }), banner: false });
    base = p.runtime.httpUrl;
    const put = async (path: string, body: unknown) => {
      const r = await fetch(`${base}${path}?${API}`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      expect(r.status, path).toBeLessThan(300);
    };
    // 30 pumps, each feeding the next five: every pump reaches every other.
    for (let i = 0; i < 30; i++)
      await put(`/digitaltwins/lb-${i}`, {
        $metadata: { $model: PUMP },
        serialNumber: `LB-${i}`,
        motor: { $metadata: {} },
      });
    for (let i = 0; i < 30; i++)
      for (let k = 1; k <= 5; k++)
        await put(`/digitaltwins/lb-${i}/relationships/f${k}`, {
          $targetId: `lb-${(i + k) % 30}`,
          $relationshipName: 'feeds',
        });
  }, 60_000);

  afterAll(async () => {
    await p?.stop();
    data.cleanup();
  });

  it('refuses a live MATCH over query.liveMaxVisits, naming that setting; the same request query runs', async () => {
    expect(p.config.query.liveMaxVisits).toBe(1000);
    const ws = new WebSocket(`${base.replace('http', 'ws')}/live`);
    const frames: Record<string, unknown>[] = [];
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const got = new Promise<Record<string, unknown>>((resolve) =>
      ws.on('message', (d: Buffer) => {
        const m = JSON.parse(d.toString()) as Record<string, unknown>;
        frames.push(m);
        if (m['type'] === 'error' || m['type'] === 'subscribed') resolve(m);
      }),
    );
    ws.send(JSON.stringify({ op: 'subscribe', id: 'heavy', query: HEAVY }));
    const answer = await got;
    ws.close();
    expect(answer['type']).toBe('error');
    expect(answer['code']).toBe('QueryBudgetExceeded');
    expect(String(answer['message'])).toMatch(/query\.liveMaxVisits/);

    const r = await fetch(`${base}/query?${API}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: HEAVY }),
    });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { value: unknown[] };
    expect(body.value.length).toBeGreaterThan(0);
  });
});
