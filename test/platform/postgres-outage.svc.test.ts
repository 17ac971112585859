/**
 * The platform on PostgreSQL while PostgreSQL is unreachable for 30 s (a TCP proxy the test cuts,
 * never the machine's server): a device keeps publishing QoS 1 readings with source times ($ts) to
 * the embedded broker. Checked: /readyz turns unready with the reason and since when; the log says
 * so once (and once when it ends); HTTP telemetry answers 503 + Retry-After after a bounded wait and
 * a twin write fails fast with 503; after restore, ingest resumes by itself (the time is printed) and
 * every reading whose PUBACK arrived is in history exactly once. OUTAGE_MS shortens the cut locally.
 */
import mqtt from 'mqtt';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { openPgDatabase } from '../../src/adapters/postgres/pg-database.js';
import { dropSchema, freshSchemaName, pgTestUrl } from '../../src/adapters/postgres/pg-test-fixture.js';
import { cliLayer, resolveConfig } from '../../src/app/config.js';
import { startPlatform, type Platform } from '../../src/app/platform.js';
import { hostPort, startTcpProxy, viaProxy, type TcpProxy } from '../support/tcp-proxy.js';
import { API, tempDataDir, waitFor } from './platform-fixture.js';

const OUTAGE_MS = Number(process.env.OUTAGE_MS ?? 30_000);
const T0 = Date.UTC(2026, 0, 1); // source times: reading i is at T0 + i s
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('the platform on PostgreSQL while PostgreSQL is unreachable', () => {
  const schema = freshSchemaName();
  const data = tempDataDir();
  let proxy: TcpProxy | undefined;
  let platform: Platform | undefined;
  let device: mqtt.MqttClient | undefined;
  afterAll(async () => {
    proxy?.restore();
    device?.end(true);
    await platform?.stop();
    await proxy?.close();
    data.cleanup();
    await dropSchema(schema);
  });

  it(
    'pauses ingest, says so once, loses nothing acknowledged and resumes by itself',
    async () => {
      proxy = await startTcpProxy(hostPort(pgTestUrl(), 5432));
      const url = new URL(viaProxy(pgTestUrl(), proxy));
      url.searchParams.set('schema', schema);
      const logs: { level: number; msg: string; [k: string]: unknown }[] = [];
      const logger = pino(
        { level: 'info' },
        { write: (s: string) => void logs.push(JSON.parse(s) as (typeof logs)[number]) },
      );
      const config = resolveConfig([
        cliLayer({
          data: data.dir,
          httpPort: '0',
          mqttPort: '0',
          logLevel: 'info',
          sim: 'off',
          shadow: 'off',
          store: url.toString(),
        }),
      ]);
      platform = await startPlatform(config, { logger, banner: false });
      const http = platform.runtime.httpUrl;
      const readyz = async () => {
        const r = await fetch(`${http}/readyz`);
        return {
          status: r.status,
          body: (await r.json()) as {
            checks: Record<string, { status: string; reason?: string; since?: string }>;
          },
        };
      };
      expect((await readyz()).status).toBe(200);

      // The device: one QoS 1 reading every 50 ms, each with its own source time.
      device = await mqtt.connectAsync(platform.runtime.mqttUrl, {
        clientId: 'dev-pump-3a',
        reconnectPeriod: 300,
        keepalive: 60,
      });
      const acked = new Map<number, number>(); // reading → when its PUBACK arrived
      let sent = 0;
      const publish = (): void => {
        const i = sent++;
        device!.publish(
          'twins/pump-3a/telemetry',
          JSON.stringify({ $ts: T0 + i * 1000, vibration: i }),
          { qos: 1 },
          (err) => {
            if (!err) acked.set(i, Date.now());
          },
        );
      };
      const ticker = setInterval(publish, 50);
      try {
        await waitFor('readings before the cut', () => acked.size >= 20);

        // ---- the outage
        const cutAt = Date.now();
        proxy.cut();
        const sentAtCut = sent;
        // /readyz turns unready with the reason and since when.
        let down: Awaited<ReturnType<typeof readyz>> | undefined;
        while (Date.now() - cutAt < 10_000) {
          const r = await readyz();
          if (r.status === 503) {
            down = r;
            break;
          }
          await sleep(200);
        }
        expect(down?.status).toBe(503);
        expect(down?.body.checks.storage?.reason).toMatch(/unreachable/);
        expect(Date.parse(down?.body.checks.storage?.since ?? '')).toBeGreaterThanOrEqual(cutAt - 1000);

        // A twin write fails fast (503, Retry-After), never hangs.
        const w0 = Date.now();
        const put = await fetch(`${http}/digitaltwins/outage-twin?${API}`, {
          method: 'PUT',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({
            $metadata: { $model: 'dtmi:twinloop:pumpline:Pump;1' },
            motor: { $metadata: {} },
          }),
        });
        const twinWriteMs = Date.now() - w0;
        expect(put.status, await put.text()).toBe(503);
        expect(put.headers.get('retry-after')).toBe('5');
        expect(twinWriteMs).toBeLessThan(3000);

        // HTTP telemetry: 503 with Retry-After after the bounded wait (10 s), not forever.
        const h0 = Date.now();
        const tel = await fetch(`${http}/digitaltwins/pump-3b/telemetry?${API}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ vibration: 1.5 }),
        });
        const httpWaitMs = Date.now() - h0;
        expect(tel.status).toBe(503);
        expect(tel.headers.get('retry-after')).toBe('5');
        expect(httpWaitMs).toBeLessThan(12_000);

        await sleep(Math.max(0, OUTAGE_MS - (Date.now() - cutAt)));
        // Nothing sent during the outage was acknowledged (not durable, so no PUBACK).
        const ackedDuring = [...acked.values()].filter((t) => t > cutAt + 500).length;
        expect(ackedDuring).toBe(0);
        const sentDuring = sent - sentAtCut;
        // Readiness also says how much waits.
        const late = await readyz();
        expect(late.status).toBe(503);
        expect(late.body.checks.storage?.reason).toMatch(
          /unreachable.*ingest paused: \d+ history points wait/,
        );
        expect(late.body.checks.storage?.since).toBe(down?.body.checks.storage?.since);

        // ---- back
        const restoredAt = Date.now();
        proxy.restore();
        await waitFor(
          'a PUBACK after the restore',
          () => [...acked.values()].some((t) => t >= restoredAt),
          15_000,
        );
        const resumeMs = Math.min(...[...acked.values()].filter((t) => t >= restoredAt)) - restoredAt;
        let up = await readyz();
        for (let k = 0; k < 20 && up.status !== 200; k++) {
          await sleep(250);
          up = await readyz();
        }
        expect(up.status).toBe(200);
        clearInterval(ticker);
        // Everything the device still holds is acknowledged once stored.
        await waitFor('every reading acknowledged', () => acked.size === sent, 20_000);

        // What the operator saw: warnings and errors by message (noise check; printed below).
        const noisy = new Map<string, number>();
        for (const l of logs) if (l.level >= 40) noisy.set(l.msg, (noisy.get(l.msg) ?? 0) + 1);
        console.log('warn/error log lines:', JSON.stringify([...noisy]));
        const paused = logs.filter((l) => /PostgreSQL is unreachable: ingest is paused/.test(l.msg));
        const resumed = logs.filter((l) => /PostgreSQL is reachable again: ingest resumed/.test(l.msg));
        expect(paused).toHaveLength(1);
        expect(resumed).toHaveLength(1);
        expect(resumed[0]!.points).toBeGreaterThan(0);

        // Every acknowledged reading is in history exactly once (read straight from PostgreSQL).
        const direct = await openPgDatabase({ url: pgTestUrl(), schema, poolSize: 1 });
        try {
          const r = await direct.query<{ ts: number; n: number }>(
            `SELECT p.ts, count(*)::int AS n FROM history_points p JOIN history_series s ON s.id = p.series_id
              WHERE s.twin_id = 'pump-3a' AND s.path = 'vibration' GROUP BY p.ts`,
          );
          const stored = new Map(r.rows.map((row) => [row.ts, row.n]));
          const missing = [...acked.keys()].filter((i) => !stored.has(T0 + i * 1000));
          const twice = r.rows.filter((row) => row.n !== 1);
          expect(missing).toEqual([]);
          expect(twice).toEqual([]);
          expect(stored.size).toBe(sent);
          console.log(
            `outage ${((restoredAt - cutAt) / 1000).toFixed(1)} s: ${sentDuring} readings published during it, ` +
              `${sent} in all, all acknowledged and stored once; ingest resumed ${resumeMs} ms after the restore; ` +
              `twin write refused in ${twinWriteMs} ms; HTTP telemetry 503 after ${httpWaitMs} ms; ` +
              `log: "${paused[0]!.msg}" / "${resumed[0]!.msg}"`,
          );
        } finally {
          await direct.close();
        }
      } finally {
        clearInterval(ticker);
      }
    },
    OUTAGE_MS + 45_000,
  );
});
