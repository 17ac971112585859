/**
 * The bare subscriber for bench/ingest: subscribes QoS 1 to the telemetry topics and only counts, to
 * give the transport's own limit. argv: url filter protocolVersion. Answers 'mark' with { type: 'count', received }.
 */
import mqtt from 'mqtt';

const [url = 'mqtt://127.0.0.1:1883', filter = 'twins/+/telemetry', version = '5'] = process.argv.slice(2);
const v5 = version === '5'; // aedes speaks 3.1.1 only
let received = 0;
const client = mqtt.connect(url, {
  clientId: `tl-bench-bare-${process.pid}`,
  clean: true,
  protocolVersion: v5 ? 5 : 4,
  // Same in-flight allowance as the ingest client (Mosquitto's max_inflight_messages applies to 3.1.1 only).
  ...(v5 ? { properties: { receiveMaximum: 65535 } } : {}),
  reconnectPeriod: 0,
});
client.on('message', () => received++);
client.on('error', (e) => console.error(`bare subscriber: ${e.message}`));
client.on('connect', () => {
  client.subscribe(filter, { qos: 1 }, (err) => {
    if (err) console.error(`bare subscriber: ${err.message}`);
    process.send?.({ type: 'ready' });
  });
});
process.on('message', (m: { type: string }) => {
  if (m.type === 'mark') process.send?.({ type: 'count', received });
  if (m.type === 'stop') void client.endAsync().then(() => process.exit(0));
});
