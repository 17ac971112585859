/**
 * Commands benchmark (npm run bench:control): the figures of issue 12, against a real
 * `twinloop start` process (embedded broker, SQLite, simulator off) with 1,000 extra pump twins, and
 * 1,000 devices in this process, each a real MQTT 5 client (client id = twin id) that answers every
 * command on its response topic. Three figures, each counted from what the platform stored:
 *
 * 1. Round-trip latency, one command at a time to a random device: from before the POST to the
 *    device's PUBACK of its answer (sent only once the platform stored `succeeded`). Baseline in the
 *    same run: a bare MQTT round trip through the same broker (publish → device echo → receiver).
 * 2. Commands per second to 1,000 devices: `--concurrency` POSTs kept in flight for `--seconds`;
 *    a command counts once the device's answer is stored.
 * 3. Drain: the devices go offline, 10,000 commands (10 per device) are queued, the devices
 *    reconnect: time until every answer is stored; each device must get its 10 in order, once.
 *
 * Options: --devices N (1000), --round-trips N (2000), --seconds N (10), --concurrency N (64),
 * --queued N (10000), --dry (do not append to bench/RESULTS.md).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as hdr from 'hdr-histogram-js';
import mqtt from 'mqtt';
import type { MqttClient } from 'mqtt';
import { kill9, startTwinloopChild, waitForRuntime } from '../../test/crash/twinloop-child.js';
import { loadNote } from '../machine-note.js';
import { appendResults, numberFlag } from '../results-file.js';

const argv = process.argv.slice(2);
const DEVICES = numberFlag(argv, '--devices', 1000);
const ROUND_TRIPS = numberFlag(argv, '--round-trips', 2000);
const SECONDS = numberFlag(argv, '--seconds', 10);
const CONCURRENCY = numberFlag(argv, '--concurrency', 64);
const QUEUED = numberFlag(argv, '--queued', 10_000);
const DRY = argv.includes('--dry');
const PUMP = 'dtmi:twinloop:pumpline:Pump;1';

const now = (): number => performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const twinIds = Array.from({ length: DEVICES }, (_, i) => `bench-pump-${String(i).padStart(4, '0')}`);

interface Answered {
  requestId: string;
  at: number;
}

/** One simulated device: answers each command with 200 / true; resolves `answered` per request id. */
class Device {
  client: MqttClient | undefined;
  readonly got: string[] = [];
  constructor(
    readonly twinId: string,
    private readonly url: string,
    private readonly onAnswered: (a: Answered) => void,
  ) {}

  async connect(): Promise<void> {
    const client = await mqtt.connectAsync(this.url, {
      clientId: this.twinId,
      protocolVersion: 5,
      reconnectPeriod: 0,
      clean: true,
    });
    this.client = client;
    noDelay(client);
    client.on('message', (_topic, payload, packet) => {
      const m = JSON.parse(payload.toString()) as { requestId: string; responseTopic: string };
      this.got.push(m.requestId);
      client.publish(
        packet.properties?.responseTopic ?? m.responseTopic,
        JSON.stringify({ status: 200, response: true }),
        { qos: 1, properties: { correlationData: Buffer.from(m.requestId) } },
        (err) => {
          if (!err) this.onAnswered({ requestId: m.requestId, at: now() });
        },
      );
    });
    await client.subscribeAsync(`twins/${this.twinId}/commands/+`, { qos: 1 });
  }

  async close(): Promise<void> {
    await this.client?.endAsync(true);
    this.client = undefined;
  }
}

/** Turns Nagle off on a client's socket (as the broker does on its side): small packets go at once. */
function noDelay(client: MqttClient): void {
  (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
}

async function pool<T>(items: readonly T[], n: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

function pct(h: hdr.Histogram): string {
  const f = (v: number) => (v / 1000).toFixed(2);
  return `p50 ${f(h.getValueAtPercentile(50))} ms, p99 ${f(h.getValueAtPercentile(99))} ms, max ${f(h.maxValue)} ms (n = ${h.totalCount})`;
}

async function main(): Promise<void> {
  const note = loadNote();
  const dir = mkdtempSync(path.join(os.tmpdir(), 'twinloop-bench-control-'));
  // BENCH_CPU_PROF=dir: a CPU profile of the server (written when it stops, gracefully then).
  const prof = process.env.BENCH_CPU_PROF;
  const child = startTwinloopChild(
    dir,
    [],
    prof ? { nodeFlags: ['--cpu-prof', '--cpu-prof-dir', prof] } : {},
  );
  try {
    const { httpUrl, mqttUrl } = await waitForRuntime(child, dir);
    const api = async (method: string, p: string, body?: unknown): Promise<Record<string, unknown>> => {
      const res = await fetch(httpUrl + p, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const json = (await res.json()) as Record<string, unknown>;
      if (res.status >= 300) throw new Error(`${method} ${p}: ${res.status} ${JSON.stringify(json)}`);
      return json;
    };
    console.log(`creating ${DEVICES} pump twins …`);
    await pool(twinIds, 16, async (id) => {
      await api('PUT', `/digitaltwins/${id}?api-version=2023-10-31`, {
        $metadata: { $model: PUMP },
        motor: { $metadata: {} },
      });
    });

    const waiting = new Map<string, (at: number) => void>();
    const early = new Map<string, number>();
    const onAnswered = (a: Answered) => {
      const w = waiting.get(a.requestId);
      if (w) {
        waiting.delete(a.requestId);
        w(a.at);
      } else early.set(a.requestId, a.at);
    };
    const answeredAt = (requestId: string): Promise<number> => {
      const at = early.get(requestId);
      if (at !== undefined) {
        early.delete(requestId);
        return Promise.resolve(at);
      }
      return new Promise((r) => waiting.set(requestId, r));
    };
    const devices = twinIds.map((id) => new Device(id, mqttUrl, onAnswered));
    console.log(`connecting ${DEVICES} devices …`);
    await pool(devices, 50, (d) => d.connect());

    // --- baseline: a bare MQTT round trip through the same broker
    const base = hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 60_000_000,
      numberOfSignificantValueDigits: 3,
    });
    {
      const pinger = await mqtt.connectAsync(mqttUrl, { clientId: 'bench-pinger', protocolVersion: 5 });
      const echo = await mqtt.connectAsync(mqttUrl, { clientId: 'bench-echo', protocolVersion: 5 });
      noDelay(pinger);
      noDelay(echo);
      await echo.subscribeAsync('bench/ping', { qos: 1 });
      echo.on('message', (_t, p) => echo.publish('bench/pong', p, { qos: 1 }));
      await pinger.subscribeAsync('bench/pong', { qos: 1 });
      let resolvePong: () => void = () => undefined;
      pinger.on('message', () => resolvePong());
      for (let i = 0; i < ROUND_TRIPS; i++) {
        const t0 = now();
        const pong = new Promise<void>((r) => (resolvePong = r));
        await pinger.publishAsync('bench/ping', String(i), { qos: 1 });
        await pong;
        base.recordValue(Math.max(1, Math.round((now() - t0) * 1000)));
      }
      await pinger.endAsync();
      await echo.endAsync();
    }
    console.log(`bare MQTT round trip: ${pct(base)}`);

    // --- 1. round-trip latency, one command at a time
    const rtt = hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 60_000_000,
      numberOfSignificantValueDigits: 3,
    });
    const accepted = hdr.build({
      lowestDiscernibleValue: 1,
      highestTrackableValue: 60_000_000,
      numberOfSignificantValueDigits: 3,
    });
    for (let i = 0; i < ROUND_TRIPS; i++) {
      const twin = twinIds[Math.floor(Math.random() * DEVICES)] as string;
      const t0 = now();
      const c = await api('POST', `/digitaltwins/${twin}/commands/setRunning`, i % 2 === 0);
      accepted.recordValue(Math.max(1, Math.round((now() - t0) * 1000)));
      const at = await answeredAt(c.requestId as string);
      rtt.recordValue(Math.max(1, Math.round((at - t0) * 1000)));
    }
    console.log(`command round trip: ${pct(rtt)}; 202 after ${pct(accepted)}`);

    // --- 2. commands per second to all devices
    let done = 0;
    let posted = 0;
    let failed = 0;
    const end = now() + SECONDS * 1000;
    const t0 = now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async (_, w) => {
        let k = w;
        while (now() < end) {
          const twin = twinIds[k++ % DEVICES] as string;
          posted++;
          try {
            const c = await api('POST', `/digitaltwins/${twin}/commands/setRunning`, true);
            await answeredAt(c.requestId as string);
            done++;
          } catch {
            failed++;
          }
        }
      }),
    );
    const throughputSeconds = (now() - t0) / 1000;
    const perSecond = done / throughputSeconds;
    console.log(
      `throughput: ${done} commands answered in ${throughputSeconds.toFixed(1)} s = ${perSecond.toFixed(0)}/s (${failed} failed)`,
    );

    // --- 3. drain: offline, queue, reconnect
    await pool(devices, 100, (d) => d.close());
    await sleep(500);
    for (const d of devices) d.got.length = 0;
    const perDevice = Math.ceil(QUEUED / DEVICES);
    const order = new Map<string, string[]>();
    const queuedIds: string[] = [];
    let notQueued = 0;
    console.log(`queueing ${perDevice * DEVICES} commands for offline devices …`);
    await pool(
      twinIds.flatMap((t) => Array.from({ length: perDevice }, () => t)),
      32,
      async (twin) => {
        const c = await api('POST', `/digitaltwins/${twin}/commands/setRunning`, false);
        if (c.state !== 'queued') notQueued++;
        const list = order.get(twin) ?? [];
        list.push(c.requestId as string);
        order.set(twin, list);
        queuedIds.push(c.requestId as string);
      },
    );
    // Per device, POSTs of one twin were made one after another by different workers: its order is
    // the order the platform stored them (seq), which is what must reach the device.
    const expectedOrder = new Map<string, string[]>();
    await pool(twinIds, 16, async (twin) => {
      const r = (await api('GET', `/digitaltwins/${twin}/commands?state=queued&limit=1000`)) as {
        value: { requestId: string }[];
      };
      expectedOrder.set(twin, r.value.map((c) => c.requestId).reverse());
    });
    const all = queuedIds.map((id) => answeredAt(id));
    const d0 = now();
    await pool(devices, 50, (d) => d.connect());
    const connectedIn = (now() - d0) / 1000;
    await Promise.all(all);
    const drainSeconds = (now() - d0) / 1000;
    let outOfOrder = 0;
    let duplicates = 0;
    for (const d of devices) {
      const want = expectedOrder.get(d.twinId) ?? [];
      if (new Set(d.got).size !== d.got.length) duplicates++;
      if (JSON.stringify(d.got) !== JSON.stringify(want)) outOfOrder++;
    }
    console.log(
      `drain: ${queuedIds.length} queued commands answered ${drainSeconds.toFixed(2)} s after the devices started reconnecting (all connected after ${connectedIn.toFixed(2)} s); ${outOfOrder} devices out of order, ${duplicates} with duplicates, ${notQueued} not queued`,
    );

    // --- what the platform stored
    let stored = 0;
    let open = 0;
    await pool(twinIds, 16, async (twin) => {
      let before: unknown;
      do {
        const r = (await api(
          'GET',
          `/digitaltwins/${twin}/commands?limit=1000${before ? `&before=${String(before)}` : ''}`,
        )) as { value: { state: string }[]; nextBefore?: number };
        stored += r.value.filter((c) => c.state === 'succeeded').length;
        open += r.value.filter((c) => ['queued', 'sent', 'acknowledged'].includes(c.state)).length;
        before = r.nextBefore;
      } while (before !== undefined);
    });
    const expectedStored = ROUND_TRIPS + done + queuedIds.length;
    console.log(`stored succeeded: ${stored} (expected at least ${expectedStored}), still open: ${open}`);
    await pool(devices, 100, (d) => d.close());

    const block = [
      `## bench:control — commands to devices (${new Date().toISOString().slice(0, 10)})`,
      '',
      `Machine: ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}. ${note}`,
      `Command: \`npm run bench:control -- --devices ${DEVICES} --round-trips ${ROUND_TRIPS} --seconds ${SECONDS} --concurrency ${CONCURRENCY} --queued ${QUEUED}\``,
      `Server: \`twinloop start\` in its own process (embedded broker, SQLite synchronous FULL, simulator off); ${DEVICES} devices (MQTT 5, client id = twin id, Nagle off) and the HTTP client in the bench process.`,
      '',
      '| figure | measured |',
      '|---|---|',
      `| bare MQTT round trip, same broker (baseline) | ${pct(base)} |`,
      `| command round trip: POST → stored → device → answer stored (device's PUBACK) | ${pct(rtt)} |`,
      `| POST answered 202 (command stored and sent) | ${pct(accepted)} |`,
      `| commands/s to ${DEVICES} devices, ${CONCURRENCY} in flight, ${SECONDS} s | ${perSecond.toFixed(0)}/s answered and stored (${done} of ${posted} posted, ${failed} failed) |`,
      `| drain ${queuedIds.length} queued commands on reconnect | ${drainSeconds.toFixed(2)} s (devices all reconnected after ${connectedIn.toFixed(2)} s); ${outOfOrder} devices out of order, ${duplicates} with duplicates |`,
      `| stored as succeeded afterwards | ${stored} of ${expectedStored} sent; ${open} still open |`,
      '',
    ].join('\n');
    console.log(`\n${block}`);
    if (!DRY) appendResults(block);
  } finally {
    if (prof) {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
    } else await kill9(child);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
