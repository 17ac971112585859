/**
 * Real-time factor while publishing (the second half of `npm run bench:fleet`): N simulated pumps
 * (default 1,000) of the pump-line pilot's behaviour, stepped at 1 s RK4 ticks as fast as the whole
 * loop allows, every reading published over MQTT (QoS 1) into a Twinloop started in this process
 * exactly as `npm start` runs it (embedded broker, SQLite history) — so simulation, MQTT, validation
 * and the durable history commit all share the machine, as in a live demo. A reading counts once
 * Twinloop has acknowledged it (PUBACK after the history commit); at most `--window` readings are in
 * flight (back-pressure, so nothing piles up in memory).
 *
 * Real-time factor = simulated seconds / wall seconds: how many times faster than real time a fleet
 * of that size can be simulated while Twinloop ingests all its telemetry.
 * Flags: --assets N, --minutes M (simulated, default 30), --sample S (s between readings of one
 * pump, default 10, as the live simulator), --window W (default 2000), --shadow (shadow mode on:
 * every reading is also compared with the pump's model), --dry (print only).
 * Not a timed test: it reports, it does not assert.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import mqtt from 'mqtt';
import { pino } from 'pino';
import { cliLayer, resolveConfig } from '../../src/app/config.js';
import { startPlatform } from '../../src/app/platform.js';
import { telemetryTopic } from '../../src/core/telemetry/topic-scheme.js';
import { createFleetRunner, type ReadingSet } from '../../src/sim/runner/fleet-runner.js';
import { loadNote } from '../machine-note.js';
import { appendResults, numberFlag } from '../results-file.js';

const argv = process.argv.slice(2);
const dry = argv.includes('--dry');
const shadowOn = argv.includes('--shadow');
const numArg = (name: string, fallback: number): number => numberFlag(argv, name, fallback);
const ASSETS = Math.round(numArg('--assets', 1000));
const MINUTES = numArg('--minutes', 30);
const SAMPLE = numArg('--sample', 10);
const WINDOW = Math.round(numArg('--window', 2000));
const PUMP = 'dtmi:twinloop:pumpline:Pump;1';
const startedAt = new Date();

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinloop-bench-rtf-'));
const platform = await startPlatform(
  resolveConfig([
    cliLayer({
      data: dataDir,
      httpPort: '0',
      mqttPort: '0',
      logLevel: 'silent',
      sim: 'off',
      shadow: shadowOn ? 'on' : 'off',
    }),
  ]),
  { logger: pino({ level: 'silent' }), banner: false },
);
try {
  const ids = Array.from({ length: ASSETS }, (_, i) => `bench-pump-${String(i).padStart(4, '0')}`);
  for (const id of ids)
    await platform.twins.createOrReplace(id, { $metadata: { $model: PUMP }, motor: { $metadata: {} } });
  const entry = platform.behaviours.forModel(PUMP);
  if (!entry) throw new Error(`The pump-line pilot has no behaviour for ${PUMP}.`);

  const client = mqtt.connect(platform.runtime.mqttUrl, { clean: true, reconnectPeriod: 0 });
  await new Promise<void>((resolve, reject) => {
    client.once('connect', () => resolve());
    client.once('error', reject);
  });

  let inFlight = 0;
  let acked = 0;
  let failed = 0;
  let wake: (() => void) | undefined;
  const epoch = Date.now();
  const publish = (r: ReadingSet): void => {
    if (Object.keys(r.values).length === 0) return;
    inFlight++;
    const payload = JSON.stringify({ ...r.values, $ts: epoch + r.time * 1000 });
    client.publish(telemetryTopic(r.assetId), payload, { qos: 1 }, (err) => {
      inFlight--;
      if (err) failed++;
      else acked++;
      if (wake && inFlight <= WINDOW / 2) {
        const w = wake;
        wake = undefined;
        w();
      }
    });
  };
  const drain = (limit: number): Promise<void> =>
    inFlight <= limit
      ? Promise.resolve()
      : new Promise((resolve) => {
          wake = () => void drain(limit).then(resolve);
        });

  const runner = createFleetRunner({
    model: entry.model,
    assets: ids.map((id) => ({ id })),
    tick: 1,
    method: 'rk4',
    sampleInterval: SAMPLE,
    seed: 42,
    variation: { wearRate: 0.2, frictionLoss: 0.1, baseVibration: 0.1 },
    sink: publish,
  });
  const end = MINUTES * 60;
  const t1 = performance.now();
  while (runner.t < end) {
    runner.advanceTo(Math.min(end, runner.t + SAMPLE));
    await drain(WINDOW);
  }
  await drain(0);
  const wallS = (performance.now() - t1) / 1000;
  client.end(true);
  const rtf = end / wallS;
  const shadowStats = platform.shadow?.stats();

  const lines: string[] = [];
  lines.push(
    `## Fleet real-time factor while publishing (bench/fleet/realtime.ts) — ${startedAt.toISOString()}`,
    '',
  );
  lines.push(
    `- Machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? '?'}), ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, Node ${process.version}.`,
  );
  lines.push(`- ${loadNote()}`);
  lines.push(`- Command: \`npm run bench:fleet:realtime${argv.length ? ' -- ' + argv.join(' ') : ''}\`.`);
  lines.push(
    `- ${ASSETS.toLocaleString('en')} pumps (pilots/pump-line behaviour, ${entry.model.layout.states.length} states), RK4 at 1 s, one reading (5 telemetry values) per pump every ${SAMPLE} simulated s, published QoS 1 over MQTT into Twinloop in the same process (embedded broker, SQLite history, PUBACK after the commit), at most ${WINDOW} unacknowledged; shadow mode ${shadowOn ? '**on** (every reading also compared with the pump model)' : 'off'}.`,
    '',
  );
  lines.push('| pumps | simulated | readings acked | failed | wall s | readings/s | **real-time factor** |');
  lines.push('|---:|---:|---:|---:|---:|---:|---:|');
  lines.push(
    `| ${ASSETS.toLocaleString('en')} | ${MINUTES} min | ${acked.toLocaleString('en')} | ${failed} | ${wallS.toFixed(2)} | ${Math.round(acked / wallS).toLocaleString('en')} | **${rtf.toFixed(1)}×** |`,
  );
  lines.push('');
  lines.push(
    `Dead letters: ${await platform.storage.deadLetters.count('default')}${shadowStats ? `; shadow observations: ${shadowStats.observations.toLocaleString('en')}, shadow errors: ${shadowStats.errors}` : ''}.`,
  );
  const block = lines.join('\n') + '\n';
  console.log(block);
  if (!dry) {
    appendResults(block);
  }
} finally {
  await platform.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
}
