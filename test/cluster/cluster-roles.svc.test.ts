/**
 * The roles of one binary as a cluster, on the machine's PostgreSQL and NATS: 3 ingest workers and
 * 2 API nodes, each a separate `twinloop start --role …` process with its own data folder and ports
 * from the OS, sharing one PostgreSQL schema and one bus prefix. A device sends QoS 1 readings at
 * full speed to API node A's MQTT broker; one worker is killed with SIGKILL mid-stream and restarted
 * later. Checked: every acknowledged reading is in history exactly once; both API nodes answer the
 * same query with the same result (the latest readings) once the stream drained; a model uploaded,
 * decommissioned and deleted through one API node is so on the other; a WebSocket client on node A
 * sees a twin written through node B. The failover time is printed.
 */
import type { ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import mqtt from 'mqtt';
import { connect } from 'nats';
import pg from 'pg';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropSchema, freshSchemaName, pgTestUrl } from '../../src/adapters/postgres/pg-test-fixture.js';
import { kill9, startTwinloopChild, waitForRuntime } from '../crash/twinloop-child.js';

const API = 'api-version=2023-10-31';
const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const TOTAL = 6000;
const schema = freshSchemaName();
const prefix = `tlc${crypto.randomBytes(4).toString('hex')}`;
const store = (() => {
  const u = new URL(pgTestUrl());
  u.searchParams.set('schema', schema);
  return u.toString();
})();
const tmp = mkdtempSync(path.join(os.tmpdir(), 'tl-cluster-'));
const configFile = path.join(tmp, 'config.json');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Node {
  name: string;
  dir: string;
  child: ChildProcess;
  httpUrl: string;
  mqttUrl: string;
}
const nodes = new Map<string, Node>();
let db: pg.Client;

async function startNode(name: string, role: 'api' | 'worker', generation = 0): Promise<Node> {
  const dir = path.join(tmp, `${name}-${generation}`);
  const args = ['--role', role, '--store', store, '--bus', NATS_URL, '--config', configFile];
  if (role === 'api' && name !== 'apiA') args.push('--pilot', 'none');
  const child = startTwinloopChild(dir, args);
  const info = await waitForRuntime(child, dir, 90_000);
  const node = { name, dir, child, httpUrl: info.httpUrl, mqttUrl: info.mqttUrl };
  nodes.set(name, node);
  return node;
}

async function httpJson(node: Node, method: string, route: string, body?: unknown) {
  const res = await fetch(`${node.httpUrl}${route}${route.includes('?') ? '&' : '?'}${API}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
}

async function query(node: Node, q: string): Promise<unknown[]> {
  const r = await httpJson(node, 'POST', '/query', { query: q });
  expect(r.status, JSON.stringify(r.body)).toBe(200);
  return r.body.value as unknown[];
}

async function readyz(
  node: Node,
): Promise<{ owner: string; partitions: { partition: number; committedSeq: number }[] }> {
  return (await (await fetch(`${node.httpUrl}/readyz`)).json()) as never;
}

async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs: number,
): Promise<T> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  writeFileSync(configFile, JSON.stringify({ bus: { prefix }, simulation: { enabled: false } }));
  db = new pg.Client({ connectionString: pgTestUrl() });
  await db.connect();
}, 30_000);

afterAll(async () => {
  await Promise.all([...nodes.values()].map((n) => kill9(n.child)));
  await db?.end();
  const nc = await connect({ servers: NATS_URL });
  const jsm = await nc.jetstreamManager();
  for (const s of [`${prefix.toUpperCase()}_INGEST`, `${prefix.toUpperCase()}_FEED`])
    await jsm.streams.delete(s).catch(() => undefined);
  await nc.close();
  await dropSchema(schema);
  rmSync(tmp, { recursive: true, force: true });
}, 60_000);

describe('a cluster of 2 api nodes and 3 workers', () => {
  it('stores every acknowledged reading once across a worker crash; both api nodes agree; live changes cross nodes', async () => {
    // API node A seeds the pilot (models and twins in PostgreSQL); B loads them.
    const a = await startNode('apiA', 'api');
    const b = await startNode('apiB', 'api');
    await Promise.all([startNode('w1', 'worker'), startNode('w2', 'worker'), startNode('w3', 'worker')]);
    const pumps = (
      (await query(
        a,
        "SELECT T.$dtId FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:twinloop:pumpline:Pump;1')",
      )) as {
        $dtId: string;
      }[]
    ).map((r) => r.$dtId);
    expect(pumps.length).toBeGreaterThanOrEqual(4);
    expect(await query(b, 'SELECT COUNT() FROM DIGITALTWINS')).toEqual(
      await query(a, 'SELECT COUNT() FROM DIGITALTWINS'),
    );

    // Every worker owns its share before the stream starts.
    await waitFor(
      'the partitions to be shared',
      async () => {
        const shares = await Promise.all(
          ['w1', 'w2', 'w3'].map(async (w) => (await readyz(nodes.get(w)!)).partitions.length),
        );
        return shares.every((n) => n === 4);
      },
      30_000,
    );

    // ---- a device sends QoS 1 readings at full speed; one worker dies mid-stream
    const device = await mqtt.connectAsync(a.mqttUrl, { clientId: 'cluster-device' });
    const acked = new Set<number>();
    const victim = nodes.get('w2')!;
    const victimPartitions = (await readyz(victim)).partitions.map((p) => p.partition);
    let killedAt = 0;
    let next = 0;
    const t0 = Date.now();
    const sender = async () => {
      while (next < TOTAL) {
        const i = next++;
        const twin = pumps[i % pumps.length]!;
        await device.publishAsync(`twins/${twin}/telemetry`, JSON.stringify({ temperature: i }), { qos: 1 });
        acked.add(i);
        if (i === Math.floor(TOTAL / 3) && !killedAt) {
          killedAt = Date.now();
          void kill9(victim.child);
        }
      }
    };
    await Promise.all(Array.from({ length: 64 }, sender));
    const sendMs = Date.now() - t0;

    // Failover: the victim's partitions owned by the survivors and committing again.
    const others = () => ['w1', 'w3'].map((w) => nodes.get(w)!);
    const tookOver = await waitFor(
      'the takeover',
      async () => {
        const owned = new Set(
          (await Promise.all(others().map(readyz))).flatMap((r) => r.partitions.map((p) => p.partition)),
        );
        return victimPartitions.every((p) => owned.has(p)) ? Date.now() : undefined;
      },
      30_000,
    );
    process.stdout.write(
      `cluster: ${TOTAL} readings acknowledged in ${sendMs} ms; worker killed at reading ${Math.floor(TOTAL / 3)}, its ${victimPartitions.length} partitions owned again ${tookOver - killedAt} ms after the kill\n`,
    );
    // The victim comes back (a new process, a new owner) and gets its share again.
    await startNode('w2', 'worker', 1);
    await device.endAsync();

    // ---- every acknowledged reading in history exactly once
    expect(acked.size).toBe(TOTAL);
    const counted = await waitFor(
      'the stream to drain',
      async () => {
        const r = await db.query<{ n: string; d: string }>(
          `SELECT count(*) AS n, count(DISTINCT p.num) AS d FROM ${schema}.history_points p
             JOIN ${schema}.history_series s ON s.id = p.series_id WHERE s.path = 'temperature'`,
        );
        const row = r.rows[0]!;
        return Number(row.n) >= TOTAL ? { n: Number(row.n), d: Number(row.d) } : undefined;
      },
      90_000,
    );
    await sleep(1000); // a double store would show up after the count reached TOTAL
    const again = await db.query<{ n: string }>(
      `SELECT count(*) AS n FROM ${schema}.history_points p JOIN ${schema}.history_series s ON s.id = p.series_id WHERE s.path = 'temperature'`,
    );
    expect(counted).toEqual({ n: TOTAL, d: TOTAL });
    expect(Number(again.rows[0]!.n)).toBe(TOTAL);
    const dead = await db
      .query<{ n: string }>(`SELECT count(*) AS n FROM ${schema}.dead_letters`)
      .catch(() => ({ rows: [{ n: 'n/a' }] }));
    process.stdout.write(`cluster: ${TOTAL} readings stored once each; dead letters: ${dead.rows[0]!.n}\n`);

    // ---- both api nodes answer the same query with the same, latest values
    const q =
      "SELECT T.$dtId, T.$telemetry.temperature FROM DIGITALTWINS T WHERE IS_OF_MODEL(T, 'dtmi:twinloop:pumpline:Pump;1')";
    const expected = pumps
      .map((id, k) => ({
        id,
        last: Math.max(...Array.from({ length: TOTAL }, (_, i) => i).filter((i) => i % pumps.length === k)),
      }))
      .sort((x, y) => x.id.localeCompare(y.id));
    const fromA = await waitFor(
      'api node A to have the latest values',
      async () => {
        const rows = (await query(a, q)) as Record<string, unknown>[];
        const last = rows
          .map((r) => ({ id: r.$dtId, last: r.temperature }))
          .sort((x, y) => String(x.id).localeCompare(String(y.id)));
        return JSON.stringify(last) === JSON.stringify(expected) ? rows : undefined;
      },
      20_000,
    );
    // The same rows (a graph's iteration order depends on the order it learnt the twins in).
    const byId = (rows: unknown[]) =>
      [...(rows as Record<string, unknown>[])].sort((x, y) => String(x.$dtId).localeCompare(String(y.$dtId)));
    expect(byId(await query(b, q))).toEqual(byId(fromA));

    // ---- HTTP telemetry through node B: 204 once on the bus, committed by a worker, seen on A
    const posted = await fetch(`${b.httpUrl}/digitaltwins/${pumps[1]}/telemetry?${API}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ temperature: TOTAL + 1 }),
    });
    expect(posted.status).toBe(204);
    await waitFor(
      'the HTTP reading on node A',
      async () => {
        const rows = (await query(
          a,
          `SELECT T.$telemetry.temperature FROM DIGITALTWINS T WHERE T.$dtId = '${pumps[1]}'`,
        )) as { temperature?: number }[];
        return rows[0]?.temperature === TOTAL + 1;
      },
      20_000,
    );

    // ---- a model uploaded through B is known on A (and a twin of it can be created through A)
    const modelId = 'dtmi:twinloop:test:ClusterProbe;1';
    const up = await httpJson(b, 'POST', '/models', [
      {
        '@id': modelId,
        '@type': 'Interface',
        '@context': 'dtmi:dtdl:context;3',
        contents: [{ '@type': 'Property', name: 'note', schema: 'string' }],
      },
    ]);
    expect(up.status, JSON.stringify(up.body)).toBe(201);
    await waitFor(
      'the model on node A',
      async () => (await httpJson(a, 'GET', `/models/${modelId}`)).status === 200,
      10_000,
    );
    const probe = await httpJson(a, 'PUT', '/digitaltwins/probe-1', {
      $metadata: { $model: modelId },
      note: "'; DROP TABLE x; --",
    });
    expect(probe.status, JSON.stringify(probe.body)).toBe(200);
    await waitFor(
      'the probe twin on node B',
      async () =>
        ((await query(b, "SELECT T.note FROM DIGITALTWINS T WHERE T.$dtId = 'probe-1'")) as unknown[])
          .length === 1,
      10_000,
    );
    // ... decommissioned through A: so on B; deleted through B: gone on A (its twin stays, as in ADT)
    const decom = await httpJson(a, 'PATCH', `/models/${modelId}`, [
      { op: 'replace', path: '/decommissioned', value: true },
    ]);
    expect(decom.status, JSON.stringify(decom.body)).toBe(204);
    await waitFor(
      'the model decommissioned on node B',
      async () => (await httpJson(b, 'GET', `/models/${modelId}`)).body.decommissioned === true,
      10_000,
    );
    expect((await httpJson(b, 'DELETE', `/models/${modelId}`)).status).toBe(204);
    await waitFor(
      'the model gone on node A',
      async () => (await httpJson(a, 'GET', `/models/${modelId}`)).status === 404,
      10_000,
    );

    // ---- a WebSocket client on A sees a twin written through B
    const wsUrl = (await readRuntime(a)).liveUrl;
    const ws = new WebSocket(wsUrl);
    const frames: { type?: string; events?: { type: string; twinId: string }[] }[] = [];
    ws.on('message', (m) => frames.push(JSON.parse(String(m)) as (typeof frames)[number]));
    await new Promise<void>((res, rej) => {
      ws.once('open', () => res());
      ws.once('error', rej);
    });
    ws.send(JSON.stringify({ op: 'subscribe', id: 's1', twinIds: [pumps[0]] }));
    await waitFor('subscribed', async () => frames.some((f) => f.type === 'subscribed'), 10_000);
    const twin = (await httpJson(b, 'GET', `/digitaltwins/${pumps[0]}`)).body;
    const put = await httpJson(b, 'PUT', `/digitaltwins/${pumps[0]}`, { ...twin, $etag: undefined });
    expect(put.status, JSON.stringify(put.body)).toBeLessThan(300);
    const seen = await waitFor(
      'the change on node A',
      async () =>
        frames.flatMap((f) => f.events ?? []).find((e) => e.twinId === pumps[0] && e.type === 'twinReplaced'),
      10_000,
    );
    expect(seen.type).toBe('twinReplaced');
    ws.close();
  }, 300_000);
});

async function readRuntime(node: Node): Promise<{ liveUrl: string }> {
  const { readFileSync } = await import('node:fs');
  return JSON.parse(readFileSync(path.join(node.dir, 'runtime.json'), 'utf8')) as { liveUrl: string };
}
