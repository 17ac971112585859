/**
 * The devices of bench/duplicates, in their own process: DEVICES simulated pumps over one MQTT.js
 * connection publish QoS 1 at RATE messages/s for DURATION ms, each message five readings with a
 * unique source time per device (`$ts`, unless ts=off). Counts the PUBACKs from the broker.
 * argv: url topicPrefix devices rate durationMs ts(on|off)
 * Messages: → done {published, acked}.
 */
import mqtt from 'mqtt';

const [url = '', prefix = '', devicesS = '100', rateS = '1000', durationS = '8000', ts = 'on'] =
  process.argv.slice(2);
const devices = Number(devicesS);
const rate = Number(rateS);
const duration = Number(durationS);
const client = await mqtt.connectAsync(url, { clientId: `tl-dup-pub-${process.pid}`, reconnectPeriod: 500 });
let published = 0;
let acked = 0;
const base = Date.UTC(2026, 0, 1);
const start = Date.now();
await new Promise<void>((resolve) => {
  const tick = setInterval(() => {
    const due = Math.min(
      Math.floor(((Date.now() - start) * rate) / 1000),
      Math.floor((duration * rate) / 1000),
    );
    while (published < due) {
      const seq = Math.floor(published / devices);
      const device = (published % devices) + 1;
      const time = ts === 'on' ? `"$ts":${base + seq * 1000},` : '';
      const body = `{${time}"temperature":${20 + (seq % 50) / 10},"vibration":${(seq % 97) / 10},"pressure":${3 + (seq % 13) / 10},"flow":${seq % 41},"rpm":${1400 + (seq % 100)}}`;
      published++;
      client.publish(`${prefix}/twins/pump-${device}/telemetry`, body, { qos: 1 }, (err) => {
        if (!err) acked++;
      });
    }
    if (Date.now() - start >= duration) {
      clearInterval(tick);
      resolve();
    }
  }, 10);
});
// Wait for the broker's PUBACKs of what is still in flight.
const end = Date.now() + 15_000;
while (acked < published && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
await client.endAsync();
process.send?.({ type: 'done', published, acked });
setTimeout(() => process.exit(0), 50);
