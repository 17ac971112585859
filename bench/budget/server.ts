/**
 * The system under test for bench:budget: the real platform (startPlatform: embedded aedes broker,
 * ingest into SQLite, HTTP API with POST /query and /healthz), no pilot and no simulator, with
 * 1,000 pump twins to publish to and a dense graph of 320 twins (each linked to the next 16) on
 * which an unanchored MATCH exhausts the query budget. Prints one JSON line
 * `{"ready":true,"httpUrl":..,"mqttPort":..}` when listening; on a "stop" line on stdin prints
 * `{"stats":{...}}` and exits.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import readline from 'node:readline';
import { PUMP_MODELS } from '../../src/adapters/mqtt/mqtt-test-fixture.js';
import { resolveConfig } from '../../src/app/config.js';
import { startPlatform } from '../../src/app/platform.js';

const PUMPS = Number(process.env['BENCH_TWINS'] ?? 1000);
const DENSE = 320;
const DEGREE = 16;
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinloop-bench-budget-'));
const config = resolveConfig([
  {
    dataDir,
    pilot: 'none',
    httpPort: 0,
    httpPortExplicit: true,
    mqtt: { port: 0, portExplicit: true },
    auth: 'off',
    simulation: { enabled: false, shadow: false },
    logLevel: 'warn',
  },
]);
const platform = await startPlatform(config);

const NODE = {
  '@context': 'dtmi:dtdl:context;3',
  '@id': 'dtmi:twinloop:bench:Node;1',
  '@type': 'Interface',
  contents: [
    { '@type': 'Property', name: 'i', schema: 'integer' },
    { '@type': 'Relationship', name: 'link' },
  ],
};
await platform.models.add([...PUMP_MODELS, NODE]);
for (let i = 1; i <= PUMPS; i++)
  await platform.twins.createOrReplace(`pump-${i}`, {
    $metadata: { $model: PUMP_MODELS[0]!['@id'] },
    motor: { $metadata: {} },
  });
for (let i = 0; i < DENSE; i++)
  await platform.twins.createOrReplace(`d${i}`, { $metadata: { $model: NODE['@id'] }, i });
for (let i = 0; i < DENSE; i++)
  for (let k = 1; k <= DEGREE; k++)
    await platform.twins.relationships.createOrReplace(`d${i}`, `l${k}`, {
      $targetId: `d${(i + k) % DENSE}`,
      $relationshipName: 'link',
    });

const mqttPort = Number(new URL(platform.runtime.mqttUrl).port);
process.stdout.write(
  `${JSON.stringify({ ready: true, httpUrl: platform.runtime.httpUrl, mqttPort, twins: platform.graph.twinCount, relationships: platform.graph.relationshipCount })}\n`,
);

// Where the time goes, per phase: event-loop delay and garbage-collection pauses of this process.
const loopDelay = monitorEventLoopDelay({ resolution: 1 });
loopDelay.enable();
let gcMs = 0;
let gcMaxMs = 0;
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    gcMs += e.duration;
    gcMaxMs = Math.max(gcMaxMs, e.duration);
  }
}).observe({ entryTypes: ['gc'] });
const cpu0 = { at: process.cpuUsage(), t: performance.now() };

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (line.trim() === 'phase') {
    // Reports the phase that ended and starts measuring the next one.
    const cpu = process.cpuUsage(cpu0.at);
    const wall = performance.now() - cpu0.t;
    process.stdout.write(
      `${JSON.stringify({
        phase: {
          loopDelayP50Ms: loopDelay.percentile(50) / 1e6,
          loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
          loopDelayMaxMs: loopDelay.max / 1e6,
          gcMs,
          gcMaxMs,
          cpuShare: (cpu.user + cpu.system) / 1000 / wall,
        },
      })}\n`,
    );
    loopDelay.reset();
    gcMs = gcMaxMs = 0;
    cpu0.at = process.cpuUsage();
    cpu0.t = performance.now();
    return;
  }
  if (line.trim() !== 'stop') return;
  void (async () => {
    const stats = { ingest: platform.ingest.stats.snapshot() };
    process.stdout.write(`${JSON.stringify({ stats })}\n`);
    rl.close();
    await platform.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
    process.exit(0);
  })();
});
