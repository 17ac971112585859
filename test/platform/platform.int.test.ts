/**
 * The platform with its embedded store: the core loop suite on SQLite (core-loop-suite.ts), a data
 * folder keeping its pilot, busy ports and token auth.
 */
import { createServer } from 'node:net';
import mqtt from 'mqtt';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Platform } from '../../src/app/platform.js';
import { API, startTestPlatform, tempDataDir } from './platform-fixture.js';
import { coreLoopSuite, query } from './core-loop-suite.js';

coreLoopSuite('the core loop', () => ({}));

let platform: Platform;
const data = tempDataDir();

beforeAll(async () => {
  platform = await startTestPlatform(data.dir);
});

afterAll(async () => {
  await platform?.stop();
  data.cleanup();
});

describe('the platform', () => {
  it('a data folder keeps its pilot: another --pilot is refused with a way out', async () => {
    await platform.stop();
    const e: unknown = await startTestPlatform(data.dir, { pilot: 'ev-fleet' }).then(
      (p) => p.stop(),
      (x: unknown) => x,
    );
    expect(e).toMatchObject({ code: 'InvalidConfig' });
    expect((e as Error).message).toMatch(/holds the pilot 'pump-line'.*--data \.\/data-ev-fleet/);
    platform = await startTestPlatform(data.dir); // no --pilot: goes on with pump-line
    expect(platform.behaviours.size).toBeGreaterThan(0);
    expect(await query(platform, 'SELECT COUNT() FROM DIGITALTWINS')).toEqual([{ COUNT: 12 }]);
  });

  it('an explicit busy port stops with a way out, never a crash', async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as { port: number }).port;
    const other = tempDataDir();
    try {
      await expect(startTestPlatform(other.dir, { mqttPort: String(port) })).rejects.toMatchObject({
        code: 'PortInUse',
        message: expect.stringMatching(/--mqtt-port/),
      });
    } finally {
      blocker.close();
      other.cleanup();
    }
  });

  it('requires a token when auth is on, for HTTP, WebSocket and MQTT', async () => {
    const other = tempDataDir();
    const p = await startTestPlatform(other.dir, { auth: 'on', pilot: 'none' });
    try {
      expect(p.token).toMatch(/^tl_/);
      const denied = await fetch(`${p.runtime.httpUrl}/models?${API}`);
      expect(denied.status).toBe(401);
      const ok = await fetch(`${p.runtime.httpUrl}/models?${API}`, {
        headers: { authorization: `Bearer ${p.token}` },
      });
      expect(ok.status).toBe(200);
      await expect(
        mqtt.connectAsync(p.runtime.mqttUrl, { reconnectPeriod: 0, password: 'wrong', username: 'x' }),
      ).rejects.toThrow();
      const c = await mqtt.connectAsync(p.runtime.mqttUrl, {
        reconnectPeriod: 0,
        password: p.token,
        username: 'x',
      });
      await c.endAsync();
      const ws = new WebSocket(p.runtime.liveUrl);
      const code = await new Promise<number>((res) => {
        ws.once('unexpected-response', (req, r) => {
          req.destroy();
          res(r.statusCode ?? 0);
        });
        ws.once('open', () => res(101));
        ws.once('error', () => res(-1));
      });
      expect(code).toBe(401);
    } finally {
      await p.stop();
      other.cleanup();
    }
  });
});
