/**
 * Event routes on a cluster, in one process on the machine's PostgreSQL and NATS: an api node
 * (`startPlatform`, role api) and an ingest worker (`startWorkerNode`) as `twinloop start` composes
 * them, on one schema and one bus prefix, and a real webhook. Devices publish to the api node's
 * broker, the worker commits the readings; a route with a telemetry filter receives each reading
 * exactly once, in order per twin: a route stored before the worker started, and one created
 * through the api node while the worker runs (told over the cluster feed).
 */
import crypto from 'node:crypto';
import mqtt from 'mqtt';
import pg from 'pg';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropSchema, freshSchemaName, pgTestUrl } from '../../src/adapters/postgres/pg-test-fixture.js';
import type { CliConfigOptions } from '../../src/app/config.js';
import { startPlatform, type Platform } from '../../src/app/platform.js';
import { startWorkerNode, type WorkerNode } from '../../src/app/worker-node.js';
import { API, tempDataDir, testConfig } from '../platform/platform-fixture.js';
import { RouteReceiver } from '../routes/route-receiver.js';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const schema = freshSchemaName();
const prefix = `tlwr${crypto.randomBytes(4).toString('hex')}`;
const store = (() => {
  const u = new URL(pgTestUrl());
  u.searchParams.set('schema', schema);
  return u.toString();
})();
const dirs = [tempDataDir(), tempDataDir()];
const hook = new RouteReceiver();
const hook2 = new RouteReceiver();
let api: Platform;
let worker: WorkerNode | undefined;
const TELEMETRY = 'microsoft.iot.telemetry';

// Analytics off: the api node would run them (it holds the analytics lease) and their derived
// telemetry (e.g. flowAnomalyScore) would reach the all-telemetry route too; this test is about what
// the workers journal.
const config = (dir: string, cli: CliConfigOptions) =>
  testConfig(dir, cli, { bus: { prefix, partitions: 4 }, analytics: { enabled: false } });

async function put(route: string, body: unknown): Promise<number> {
  const res = await fetch(`${api.runtime.httpUrl}${route}?${API}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  await res.text();
  return res.status;
}

async function waitFor(what: string, ok: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await ok())) {
    if (Date.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The telemetry a receiver got: the flow values per twin, in arrival order. */
function flows(r: RouteReceiver): Map<string, number[]> {
  const m = new Map<string, number[]>();
  for (const e of r.events) {
    if (e.body.type !== TELEMETRY) continue;
    const twin = decodeURIComponent(String(e.body.source).split('/digitaltwins/')[1] ?? '');
    m.set(twin, [...(m.get(twin) ?? []), (e.body.data as { flow: number }).flow]);
  }
  return m;
}
const telemetryCount = (r: RouteReceiver) => r.events.filter((e) => e.body.type === TELEMETRY).length;

async function send(from: number, to: number): Promise<void> {
  const client = await mqtt.connectAsync(api.runtime.mqttUrl, { clientId: `dev-${from}` });
  try {
    for (let i = from; i < to; i++)
      for (const twin of ['pump-1a', 'pump-3a'])
        await client.publishAsync(`twins/${twin}/telemetry`, JSON.stringify({ flow: i }), { qos: 1 });
  } finally {
    await client.endAsync();
  }
}

beforeAll(async () => {
  await hook.up();
  await hook2.up();
  const logger = pino({ level: process.env.TL_TEST_LOG ?? 'silent' });
  api = await startPlatform(config(dirs[0]!.dir, { role: 'api', store, bus: NATS_URL }), {
    logger,
    banner: false,
  });
}, 60_000);

afterAll(async () => {
  await worker?.stop();
  await api?.stop();
  await hook.down();
  await hook2.down();
  for (const d of dirs) d.cleanup();
  await dropSchema(schema);
});

describe('event routes fed by ingest workers', () => {
  it('a telemetry route receives what a worker commits, exactly once and in order per twin', async () => {
    expect(await put('/endpoints/hook', { type: 'webhook', url: hook.url })).toBeLessThan(300);
    expect(
      await put('/eventroutes/tel', {
        endpointName: 'hook',
        filter: `type = '${TELEMETRY}' AND $body.flow >= 0`,
      }),
    ).toBeLessThan(300);
    worker = await startWorkerNode(config(dirs[1]!.dir, { role: 'worker', store, bus: NATS_URL }), {
      logger: pino({ level: process.env.TL_TEST_LOG ?? 'silent' }),
    });
    await waitFor('the worker owns every partition', () => worker!.status().partitions.length === 4, 20_000);

    const N = 40;
    await send(0, N);
    await waitFor('every reading routed', () => telemetryCount(hook) >= 2 * N, 20_000);
    await new Promise((r) => setTimeout(r, 1500)); // a duplicate would come meanwhile
    const expected = [...Array(N).keys()];
    expect(Object.fromEntries(flows(hook))).toEqual({ 'pump-1a': expected, 'pump-3a': expected });

    // ---- a route created through the api node while the worker runs: the worker journals for it too
    expect(await put('/endpoints/hook2', { type: 'webhook', url: hook2.url })).toBeLessThan(300);
    expect(
      await put('/eventroutes/tel2', { endpointName: 'hook2', filter: `type = '${TELEMETRY}'` }),
    ).toBeLessThan(300);
    await waitFor('the worker knows the new route', () => worker!.routes.listRoutes().length === 2, 10_000);
    await send(N, N + 10);
    await waitFor(
      'routed to both',
      () => telemetryCount(hook) >= 2 * N + 20 && telemetryCount(hook2) >= 20,
      20_000,
    );
    await new Promise((r) => setTimeout(r, 1000));
    const later = [...Array(10).keys()].map((i) => N + i);
    expect(Object.fromEntries(flows(hook2))).toEqual({ 'pump-1a': later, 'pump-3a': later });
    expect(telemetryCount(hook)).toBe(2 * N + 20);

    // Nothing left behind: every row delivered and acknowledged, none dead-lettered.
    const db = new pg.Client({ connectionString: pgTestUrl() });
    await db.connect();
    try {
      const left = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.event_outbox`);
      const dead = await db.query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.event_dead_letters`);
      expect([Number(left.rows[0]!.n), Number(dead.rows[0]!.n)]).toEqual([0, 0]);
    } finally {
      await db.end();
    }
  });
});
