/**
 * The device side of bench:latency, in its own process: publishes pump telemetry over MQTT QoS 1
 * at a fixed offered rate (not saturation), round-robin over the twins, each payload stamped with
 * its send time on the machine's monotonic clock (`flow` carries it in ms with µs precision; `$ts`
 * carries the wall time). Prints `{"sent":..,"acked":..,"seconds":..}` when done.
 *
 * Args: --port N --rate MSG_PER_S --seconds S --twins N
 */
import mqtt from 'mqtt';

const args = process.argv.slice(2);
const arg = (name: string, def: number): number => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : def;
};
const port = arg('port', 1883);
const rate = arg('rate', 10_000);
const seconds = arg('seconds', 10);
const twins = arg('twins', 1000);

const monoMs = (): number => Number(process.hrtime.bigint()) / 1e6;

const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
  clientId: `bench-latency-${process.pid}`,
  clean: true,
});
let sent = 0;
let acked = 0;
let failed = 0;
const start = performance.now();
const end = start + seconds * 1000;

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
      const payload = `{"$ts":${Date.now()},"temperature":${20 + (sent % 50) / 10},"flow":${monoMs()}}`;
      sent++;
      client.publish(`twins/${twin}/telemetry`, payload, { qos: 1 }, (err) => {
        if (err) failed++;
        else acked++;
      });
    }
    if (now >= end) {
      clearInterval(timer);
      resolve();
    }
  }, 2);
});
// Give the last acknowledgements a moment.
const waitUntil = performance.now() + 5000;
while (acked + failed < sent && performance.now() < waitUntil) await new Promise((r) => setTimeout(r, 20));
await client.endAsync();
process.stdout.write(
  `${JSON.stringify({ sent, acked, failed, seconds: (performance.now() - start) / 1000 })}\n`,
);
