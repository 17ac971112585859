/**
 * The core loop end to end, with real parts only, as one suite every store runs (SQLite in
 * platform.int.test.ts, PostgreSQL in platform-postgres.svc.test.ts): a device publishes over MQTT to
 * the embedded broker, the reading lands in the twin (queryable at once), in history, and on a
 * WebSocket subscriber; bad input lands in the dead letters; a restart keeps everything.
 */
import mqtt from 'mqtt';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CliConfigOptions } from '../../src/app/config.js';
import type { Platform } from '../../src/app/platform.js';
import { API, startTestPlatform, tempDataDir } from './platform-fixture.js';

export async function post(p: Platform, route: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${p.runtime.httpUrl}${route}${route.includes('?') ? '&' : '?'}${API}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.text()) || '{}' };
}

export async function query(p: Platform, q: string): Promise<unknown[]> {
  const r = await post(p, '/query', { query: q });
  expect(r.status).toBe(200);
  return (JSON.parse(r.body) as { value: unknown[] }).value;
}

/**
 * The suite; `store` gives the options of the store under test (called once: the same store across
 * the restart), `cleanup` removes it at the end.
 */
export function coreLoopSuite(
  name: string,
  store: () => CliConfigOptions,
  cleanup?: () => Promise<void>,
): void {
  describe(name, () => {
    let platform: Platform;
    const data = tempDataDir();
    let cli: CliConfigOptions;
    beforeAll(async () => {
      cli = store();
      platform = await startTestPlatform(data.dir, cli);
    });
    afterAll(async () => {
      await platform?.stop();
      data.cleanup();
      await cleanup?.();
    });

    it('loads the pump-line pilot on first start', async () => {
      const rows = await query(platform, 'SELECT COUNT() FROM DIGITALTWINS');
      expect(rows).toEqual([{ COUNT: 12 }]);
      const pumps = await query(
        platform,
        "SELECT P FROM DIGITALTWINS L JOIN P RELATED L.hasEquipment WHERE L.$dtId = 'line-3' AND IS_OF_MODEL(P, 'dtmi:twinloop:pumpline:Pump;1')",
      );
      expect(pumps).toHaveLength(4);
    });

    it('MQTT reading → twin state, history and a WebSocket subscriber', async () => {
      const ws = new WebSocket(platform.runtime.liveUrl);
      const frames: {
        type?: string;
        sub?: string;
        events?: { type: string; twinId: string; values?: Record<string, unknown> }[];
      }[] = [];
      ws.on('message', (m) => frames.push(JSON.parse(String(m)) as (typeof frames)[number]));
      await new Promise<void>((res, rej) => {
        ws.once('open', () => res());
        ws.once('error', rej);
      });
      ws.send(JSON.stringify({ op: 'subscribe', id: 's1', twinIds: ['pump-3a'] }));
      await waitFor(() => frames.some((f) => f.type === 'subscribed'));

      const client = await mqtt.connectAsync(platform.runtime.mqttUrl, { clientId: 'dev-pump-3a' });
      await client.publishAsync(
        'twins/pump-3a/telemetry',
        JSON.stringify({ vibration: 7.8, temperature: 63.2, flow: 51 }),
        { qos: 1 },
      );
      // PUBACK arrived: the reading is durable and visible to the very next query.
      const rows = await query(
        platform,
        'SELECT T.$dtId, T.$telemetry.vibration FROM DIGITALTWINS T WHERE T.$telemetry.vibration > 7',
      );
      expect(rows).toEqual([{ $dtId: 'pump-3a', vibration: 7.8 }]);
      // A bare path reads properties only, as in ADT: vibration is telemetry, so it is not defined.
      expect(
        await query(platform, 'SELECT T.$dtId FROM DIGITALTWINS T WHERE IS_DEFINED(T.vibration)'),
      ).toEqual([]);

      await waitFor(() =>
        frames.some((f) => f.sub === 's1' && f.events?.some((e) => e.type === 'telemetry')),
      );
      const ev = frames.flatMap((f) => f.events ?? []).find((e) => e.type === 'telemetry');
      expect(ev?.twinId).toBe('pump-3a');
      expect(ev?.values).toMatchObject({ vibration: 7.8 });

      const hist = await fetch(
        `${platform.runtime.httpUrl}/digitaltwins/pump-3a/history?path=temperature&from=0&to=${Date.now() + 1000}&${API}`,
      );
      expect(hist.status).toBe(200);
      const h = (await hist.json()) as { value: { value: unknown }[] };
      expect(h.value.map((p) => p.value)).toEqual([63.2]);

      // Bad input: dead-lettered with its reason; the broker keeps serving.
      await client.publishAsync('twins/pump-3a/telemetry', '{"vibration": ', { qos: 1 });
      await client.publishAsync('twins/no-such-pump/telemetry', '{"vibration": 1}', { qos: 1 });
      await client.publishAsync('twins/pump-3a/telemetry', '{"colour": "red"}', { qos: 1 });
      await client.publishAsync('twins/pump-3b/telemetry', '{"vibration": 2.5}', { qos: 1 });
      const dl = await fetch(`${platform.runtime.httpUrl}/deadletters?${API}`);
      const letters = ((await dl.json()) as { value: { code: string; topic: string; payload: string }[] })
        .value;
      expect(letters.map((l) => l.code).sort()).toEqual(
        ['DigitalTwinNotFound', 'InvalidTelemetry', 'InvalidTelemetry'].sort(),
      );
      expect(letters.find((l) => l.payload === '{"vibration": ')?.topic).toBe('twins/pump-3a/telemetry');
      expect(
        await query(platform, "SELECT T.$telemetry.vibration FROM DIGITALTWINS T WHERE T.$dtId = 'pump-3b'"),
      ).toEqual([{ vibration: 2.5 }]);

      // Metrics: what was accepted, rejected and committed is counted.
      const metrics = await (await fetch(`${platform.runtime.httpUrl}/metrics`)).text();
      const metric = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1]);
      expect(metric('twinloop_ingest_messages_total')).toBe(2);
      expect(metric('twinloop_dead_letters_total\\{code="InvalidTelemetry"\\}')).toBe(2);
      expect(metric('twinloop_history_commit_seconds_count')).toBeGreaterThanOrEqual(2);
      expect(metric('twinloop_live_sessions')).toBe(1);

      await client.endAsync();
      ws.close();
    });

    it('keeps everything across a restart', async () => {
      await platform.stop();
      platform = await startTestPlatform(data.dir, cli);
      expect(await query(platform, 'SELECT COUNT() FROM DIGITALTWINS')).toEqual([{ COUNT: 12 }]);
      // latest telemetry survives too
      expect(
        await query(platform, "SELECT T.$telemetry.vibration FROM DIGITALTWINS T WHERE T.$dtId = 'pump-3a'"),
      ).toEqual([{ vibration: 7.8 }]);
    });
  });
}

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}
