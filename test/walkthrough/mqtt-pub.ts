// A stand-in for `mosquitto_pub -h H -p P -q Q -t TOPIC -m MESSAGE` (MQTT.js) for machines without
// Mosquitto's clients: the walk-through test uses the real binary when it is installed.
import mqtt from 'mqtt';

const args = process.argv.slice(2);
const opt = (flag: string, dflt?: string): string | undefined => {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : dflt;
};
const client = await mqtt.connectAsync(`mqtt://${opt('-h', '127.0.0.1')}:${opt('-p', '1883')}`, {
  clientId: `pub-${process.pid}`,
  ...(opt('-P') ? { username: opt('-u', 'device') ?? 'device', password: opt('-P') ?? '' } : {}),
});
await client.publishAsync(opt('-t') ?? '', opt('-m') ?? '', { qos: Number(opt('-q', '0')) as 0 | 1 | 2 });
await client.endAsync();
