/**
 * The system under test for bench:latency, in one process: the embedded MQTT broker (aedes) feeding
 * the real ingest service (DTDL pump model, in-memory twin graph, SQLite history with synchronous
 * FULL as configured by default, or NORMAL with BENCH_SYNC=NORMAL), whose committed telemetry goes through the LiveEventBus to the
 * LiveHub and out of Fastify's `GET /live` WebSocket.
 *
 * The composition root (src/app) is not assembled yet, so this script wires the pieces the same way.
 * Prints one JSON line `{"ready":true,"mqttPort":..,"httpPort":..}` when listening; on a "stop" line
 * on stdin prints `{"stats":{...}}` and exits.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import Fastify from 'fastify';
import { createIngestStack, pumpModels } from '../../src/adapters/mqtt/mqtt-test-fixture.js';
import { AedesBroker } from '../../src/adapters/mqtt/aedes-broker.js';
import { LiveHub } from '../../src/core/live/live-hub.js';
import { createLiveQueryCompiler } from '../../src/core/live/live-query.js';
import { liveWsPlugin } from '../../src/adapters/http/live/live-ws-plugin.js';

const twins = Number(process.env['BENCH_TWINS'] ?? 1000);
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinloop-bench-latency-'));
const synchronous = process.env['BENCH_SYNC'] === 'NORMAL' ? 'NORMAL' : 'FULL';
const stack = createIngestStack({ dataDir, twins, synchronous });
const models = pumpModels();
const isOfModel = (_ws: string, m: string, b: string): boolean => models.isOfModel(m, b);
const hub = new LiveHub({
  bus: stack.live,
  isOfModel,
  compileQuery: createLiveQueryCompiler({
    graphOf: (ws) => (ws === 'default' ? stack.graph : undefined),
    isOfModel,
  }),
});
const broker = new AedesBroker({ host: '127.0.0.1', port: 0, ingest: stack.service });
const app = Fastify();
await app.register(liveWsPlugin({ hub }));
const httpUrl = await app.listen({ host: '127.0.0.1', port: 0 });
const { port: mqttPort } = await broker.start();
process.stdout.write(
  `${JSON.stringify({ ready: true, mqttPort, httpPort: Number(new URL(httpUrl).port), dataDir })}\n`,
);

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (line.trim() !== 'stop') return;
  void (async () => {
    const stats = { hub: hub.stats(), ingest: { ...stack.service.stats } };
    process.stdout.write(`${JSON.stringify({ stats })}\n`);
    rl.close();
    hub.close();
    await app.close();
    await broker.close();
    await stack.close();
    fs.rmSync(dataDir, { recursive: true, force: true });
    process.exit(0);
  })();
});
