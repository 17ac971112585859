/**
 * The device side of bench:budget, in its own process: publishes pump telemetry over MQTT QoS 1 at
 * a fixed offered rate (not saturation), round-robin over the twins, and records each message's
 * acknowledgement latency (publish call → PUBACK callback) in an HDR histogram. The broker sends
 * the PUBACK once the reading is durable, so this is the time a device waits for "stored".
 * Prints `{"sent":..,"acked":..,"failed":..,"seconds":..,"ackUs":{p50,p99,p999,max,count}}`.
 *
 * Args: --port N --rate MSG_PER_S --seconds S --warmup S --twins N
 */
import * as hdr from 'hdr-histogram-js';
import mqtt from 'mqtt';
import { numberFlag } from '../results-file.js';

const argv = process.argv.slice(2);
const port = numberFlag(argv, '--port', 1883);
const rate = numberFlag(argv, '--rate', 10_000);
const seconds = numberFlag(argv, '--seconds', 10);
const warmup = Number(argv[argv.indexOf('--warmup') + 1] ?? 0) || 0;
const twins = numberFlag(argv, '--twins', 1000);

const histogram = hdr.build({
  lowestDiscernibleValue: 1,
  highestTrackableValue: 120_000_000,
  numberOfSignificantValueDigits: 3,
});
const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
  clientId: `bench-budget-${process.pid}`,
  clean: true,
});
let sent = 0;
let acked = 0;
let failed = 0;
const start = performance.now();
const end = start + seconds * 1000;
const measureFrom = start + warmup * 1000;

await new Promise<void>((resolve) => {
  // Every 2 ms send what is due so far: a steady offered rate, independent of how fast acks return.
  const timer = setInterval(() => {
    const now = performance.now();
    const due = Math.min(
      Math.floor(((Math.min(now, end) - start) / 1000) * rate),
      Math.round(seconds * rate),
    );
    while (sent < due) {
      const twin = `pump-${(sent % twins) + 1}`;
      const payload = `{"temperature":${20 + (sent % 50) / 10},"flow":${sent % 100}}`;
      sent++;
      const at = performance.now();
      client.publish(`twins/${twin}/telemetry`, payload, { qos: 1 }, (err) => {
        if (err) failed++;
        else {
          acked++;
          if (at >= measureFrom)
            histogram.recordValue(Math.max(1, Math.round((performance.now() - at) * 1000)));
        }
      });
    }
    if (now >= end) {
      clearInterval(timer);
      resolve();
    }
  }, 2);
});
const waitUntil = performance.now() + 10_000;
while (acked + failed < sent && performance.now() < waitUntil) await new Promise((r) => setTimeout(r, 20));
await client.endAsync();
process.stdout.write(
  `${JSON.stringify({
    sent,
    acked,
    failed,
    seconds: (performance.now() - start) / 1000,
    ackUs: {
      p50: histogram.getValueAtPercentile(50),
      p99: histogram.getValueAtPercentile(99),
      p999: histogram.getValueAtPercentile(99.9),
      max: histogram.maxValue,
      count: histogram.totalCount,
    },
  })}\n`,
);
