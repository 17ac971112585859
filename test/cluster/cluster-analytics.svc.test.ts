/**
 * Streaming analytics on a cluster, on the machine's PostgreSQL and NATS: api node A is a real
 * `twinloop start --role api` process (so it can be killed with SIGKILL), api node B and an ingest
 * worker run in this process (`startPlatform`, `startWorkerNode`), all on one schema and one bus
 * prefix, with the pump-line pilot's rules, derived values and anomaly plan. Checked:
 * - one api node runs the analytics (the holder of the analytics lease: /healthz, /metrics);
 * - a rule put through B (which does not run them) reaches A over the feed;
 * - a reading that breaks it raises exactly ONE alarm (count 1), served by both nodes' GET /alarms
 *   and seen by a WebSocket client of B;
 * - the derived value of a reading is stored once in history and reaches B's twin;
 * - A is killed: B takes the analytics over within the lease's ttl plus a try, and a later
 *   violation raises an alarm there; B's own derived values are stored.
 * The takeover time is printed.
 */
import type { ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connect } from 'nats';
import { pino } from 'pino';
import WebSocket from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropSchema, freshSchemaName, pgTestUrl } from '../../src/adapters/postgres/pg-test-fixture.js';
import { startPlatform, type Platform } from '../../src/app/platform.js';
import { startWorkerNode, type WorkerNode } from '../../src/app/worker-node.js';
import { kill9, startTwinloopChild, waitForRuntime } from '../crash/twinloop-child.js';
import { API, testConfig } from '../platform/platform-fixture.js';

const NATS_URL = process.env.NATS_URL ?? 'nats://127.0.0.1:4222';
const LEASE_MS = 2000;
const EVERY_MS = 500; // min(1 s, ttl / 4): the default try interval
const PUMP = 'dtmi:twinloop:pumpline:Pump;1';
const RULE = 'cluster-hot';
const schema = freshSchemaName();
const prefix = `tlca${crypto.randomBytes(4).toString('hex')}`;
const store = (() => {
  const u = new URL(pgTestUrl());
  u.searchParams.set('schema', schema);
  return u.toString();
})();
const tmp = mkdtempSync(path.join(os.tmpdir(), 'tl-cluster-analytics-'));
const configFile = path.join(tmp, 'config.json');
const layer = { bus: { prefix, partitions: 4 }, analytics: { leaseMs: LEASE_MS } };
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let childA: ChildProcess | undefined;
let urlA = '';
let b: Platform | undefined;
let urlB = '';
let worker: WorkerNode | undefined;
const logsB: { msg: string; why?: string }[] = [];

async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function call(base: string, method: string, route: string, body?: unknown) {
  const res = await fetch(`${base}${route}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, text };
}

const healthz = async (base: string) =>
  (JSON.parse((await call(base, 'GET', '/healthz')).text) as { analytics?: string }).analytics;

/** A gauge's value in /metrics. */
async function gauge(base: string, name: string): Promise<number> {
  const { text } = await call(base, 'GET', '/metrics');
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`no ${name} in /metrics`);
  return Number(line.split(' ')[1]);
}

interface Alarm {
  id: string;
  twinId: string;
  state: string;
  count: number;
  cleared?: { by: string };
}
async function alarms(base: string): Promise<Alarm[]> {
  const r = await call(base, 'GET', `/alarms?rule=${RULE}&limit=100`);
  expect(r.status, r.text).toBe(200);
  return (JSON.parse(r.text) as { value: Alarm[] }).value;
}

async function telemetry(twin: string, values: Record<string, number>): Promise<void> {
  const r = await call(urlB, 'POST', `/digitaltwins/${twin}/telemetry?${API}`, values);
  expect(r.status, r.text).toBe(204);
}

async function history(twin: string, pathName: string) {
  return (
    await b!.storage.history.queryRaw({
      workspace: 'default',
      twinId: twin,
      path: pathName,
      from: 0,
      to: Date.now() + 60_000,
      limit: 100,
    })
  ).points;
}

beforeAll(async () => {
  writeFileSync(configFile, JSON.stringify({ ...layer, simulation: { enabled: false } }));
}, 30_000);

afterAll(async () => {
  if (childA) await kill9(childA);
  await worker?.stop();
  await b?.stop();
  const nc = await connect({ servers: NATS_URL });
  const jsm = await nc.jetstreamManager();
  for (const s of [`${prefix.toUpperCase()}_INGEST`, `${prefix.toUpperCase()}_FEED`])
    await jsm.streams.delete(s).catch(() => undefined);
  await nc.close();
  await dropSchema(schema);
  rmSync(tmp, { recursive: true, force: true });
}, 60_000);

describe('streaming analytics on a cluster of 2 api nodes and a worker', () => {
  it('run on one api node under a lease: one alarm per violation, derived values everywhere, takeover after a kill', async () => {
    // ---- A first (it seeds the pilot, and takes the analytics lease), then B and a worker
    const dirA = path.join(tmp, 'a');
    childA = startTwinloopChild(dirA, [
      '--role',
      'api',
      '--store',
      store,
      '--bus',
      NATS_URL,
      '--config',
      configFile,
      '--pilot',
      'pump-line',
    ]);
    urlA = (await waitForRuntime(childA, dirA, 90_000)).httpUrl;
    await waitFor('A to run the analytics', async () => (await healthz(urlA)) === 'running', 20_000);

    const logger = pino(
      { level: 'info' },
      {
        write: (line: string) => {
          const o = JSON.parse(line) as { msg: string; why?: string; component?: string };
          if (o.component === 'analytics') logsB.push({ msg: o.msg, ...(o.why ? { why: o.why } : {}) });
        },
      },
    );
    b = await startPlatform(
      testConfig(path.join(tmp, 'b'), { role: 'api', store, bus: NATS_URL, pilot: 'pump-line' }, layer),
      { logger, banner: false },
    );
    urlB = b.runtime.httpUrl;
    worker = await startWorkerNode(
      testConfig(path.join(tmp, 'w'), { role: 'worker', store, bus: NATS_URL }, layer),
      { logger: pino({ level: process.env.TL_TEST_LOG ?? 'silent' }) },
    );
    await waitFor(
      'the worker owns every partition',
      async () => worker!.status().partitions.length === 4,
      30_000,
    );
    await sleep(3 * EVERY_MS);
    expect([await healthz(urlA), await healthz(urlB)]).toEqual(['running', 'standby']);
    expect([
      await gauge(urlA, 'twinloop_analytics_leader'),
      await gauge(urlB, 'twinloop_analytics_leader'),
    ]).toEqual([1, 0]);
    expect(b.analytics.runtime).toBeUndefined();

    // ---- a rule put through B reaches the analytics on A (over the feed)
    const rulesOnA = await gauge(urlA, 'twinloop_analytics_rules');
    const put = await call(urlB, 'PUT', `/rules/${RULE}`, {
      id: RULE,
      appliesTo: { model: PUMP },
      severity: 'critical',
      condition: { threshold: { telemetry: 'temperature', above: 100, clearBelow: 90 } },
      message: 'hot {value} on {twinId}',
    });
    expect(put.status, put.text).toBe(201);
    await waitFor(
      'A to have the new rule',
      async () => (await gauge(urlA, 'twinloop_analytics_rules')) === rulesOnA + 1,
      10_000,
    );
    expect(await gauge(urlB, 'twinloop_analytics_rules')).toBe(0);

    // ---- a WebSocket client of B subscribed to the pump's alarms
    const ws = new WebSocket(b.runtime.liveUrl);
    const frames: { type?: string; events?: { type: string; twinId: string; transition?: string }[] }[] = [];
    ws.on('message', (m) => frames.push(JSON.parse(String(m)) as (typeof frames)[number]));
    await new Promise<void>((res, rej) => {
      ws.once('open', () => res());
      ws.once('error', rej);
    });
    ws.send(JSON.stringify({ op: 'subscribe', id: 's1', twinIds: ['pump-1a'], types: ['alarm'] }));
    await waitFor('subscribed', async () => frames.some((f) => f.type === 'subscribed'), 10_000);
    const alarmEvents = () =>
      frames.flatMap((f) => f.events ?? []).filter((e) => e.type === 'alarm' && e.twinId === 'pump-1a');

    // ---- a reading (through B, committed by the worker) that breaks it: exactly one alarm
    await telemetry('pump-1a', { temperature: 120, flow: 36, dischargePressure: 2.01325 });
    await waitFor('the alarm', async () => (await alarms(urlB)).length > 0, 20_000);
    await sleep(1500); // a second alarm or a repeat would come meanwhile
    const raised = await alarms(urlB);
    expect(raised.map((a) => [a.twinId, a.state, a.count])).toEqual([['pump-1a', 'active', 1]]);
    expect((await alarms(urlA)).map((a) => a.id)).toEqual([raised[0]!.id]); // the shared store
    // raised on A, told to B's live stream over the feed
    await waitFor("the alarm on B's live stream", async () => alarmEvents().length > 0, 10_000);
    expect(alarmEvents().map((e) => e.transition)).toEqual(['raised']);

    // ---- its derived value: in history once, and on B's twin (over the feed)
    const power = await waitFor(
      'hydraulicPower in history',
      async () => {
        const p = await history('pump-1a', 'hydraulicPower');
        return p.length > 0 ? p : undefined;
      },
      10_000,
    );
    expect(power).toHaveLength(1);
    expect(power[0]!.value as number).toBeCloseTo(1, 9);
    await waitFor(
      "hydraulicPower on B's twin",
      async () => b!.graph.getTwin('pump-1a')?.telemetry.hydraulicPower !== undefined,
      10_000,
    );
    expect(b.graph.getTwin('pump-1a')!.telemetry.hydraulicPower!.value as number).toBeCloseTo(1, 9);
    expect(await history('pump-1a', 'temperatureAnomalyScore')).toHaveLength(1); // scored once

    // ---- the condition clears (A clears the alarm), then A dies
    await telemetry('pump-1a', { temperature: 50 });
    await waitFor('the alarm to clear', async () => (await alarms(urlB))[0]?.state === 'cleared', 20_000);
    ws.close();
    const killedAt = Date.now();
    await kill9(childA);
    childA = undefined;
    await waitFor('B to take the analytics over', async () => b!.analytics.state() === 'running', 20_000);
    const takeoverMs = Date.now() - killedAt;
    process.stdout.write(
      `cluster analytics: B runs the analytics ${takeoverMs} ms after A was killed (lease ${LEASE_MS} ms, a try every ${EVERY_MS} ms)\n`,
    );
    // Within the lease's ttl plus a try (and the slack of a loaded 2-core machine).
    expect(takeoverMs).toBeLessThan(LEASE_MS + EVERY_MS + 1500);
    expect(await healthz(urlB)).toBe('running');
    expect(await gauge(urlB, 'twinloop_analytics_leader')).toBe(1);
    expect(logsB.map((l) => l.msg)).toContain(
      'took the analytics lease: the streaming analytics run on this node now',
    );
    await waitFor(
      'B to have the rules',
      async () => (await gauge(urlB, 'twinloop_analytics_rules')) === rulesOnA + 1,
      10_000,
    );

    // ---- a later violation raises a new alarm on B; B's derived values are stored
    await telemetry('pump-1a', { temperature: 130, flow: 72, dischargePressure: 2.01325 });
    await waitFor('the second alarm', async () => (await alarms(urlB)).length === 2, 20_000);
    await sleep(1000);
    const after = await alarms(urlB);
    expect(after.map((a) => [a.twinId, a.state, a.count])).toEqual([
      ['pump-1a', 'active', 1],
      ['pump-1a', 'cleared', 1],
    ]);
    const power2 = await waitFor(
      'the second hydraulicPower',
      async () => {
        const p = await history('pump-1a', 'hydraulicPower');
        return p.length > 1 ? p : undefined;
      },
      10_000,
    );
    expect(power2.map((p) => Math.round((p.value as number) * 1e6) / 1e6)).toEqual([1, 2]);
  });
});
