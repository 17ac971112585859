/**
 * The system under test for bench/ingest, in its own process: the real ingest stack (SQLite with
 * synchronous=FULL in a temp data folder, 1,000 pump twins, the DTDL parser's model) behind the
 * embedded aedes broker, or the external-broker client. With mode 'plain' it is a bare aedes broker
 * without ingestion (for the transport's limit). argv: mode dataDir twins [mqttUrl]
 * Messages: → ready {port}; 'mark' → stats {acceptedMessages, acceptedReadings, deadLetters};
 * 'count' → rows {rows} (points stored, counted from the store); 'stop'.
 */
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { AedesBroker } from '../../src/adapters/mqtt/aedes-broker.js';
import { MqttClientIngest } from '../../src/adapters/mqtt/mqtt-client-ingest.js';
import { createIngestStack } from '../../src/adapters/mqtt/mqtt-test-fixture.js';

const [mode = 'embedded', dataDir = '', twinsS = '1000', url = 'mqtt://127.0.0.1:1883'] =
  process.argv.slice(2);
const twins = Number(twinsS);
const send = (m: unknown) => process.send?.(m);

if (mode === 'plain') {
  const aedes = new Aedes();
  await aedes.listen();
  const server = createServer(aedes.handle);
  server.on('connection', (s) => s.setNoDelay(true));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  send({ type: 'ready', port: (server.address() as AddressInfo).port });
  process.on('message', (m: { type: string }) => {
    if (m.type === 'stop') aedes.close(() => server.close(() => process.exit(0)));
  });
} else {
  const stack = createIngestStack({ dataDir, twins, synchronous: 'FULL' });
  const log = {
    info: () => undefined,
    warn: (m: string) => console.error(m),
    error: (m: string) => console.error(m),
  };
  let stop: () => Promise<void>;
  let port = 0;
  if (mode === 'embedded') {
    const broker = new AedesBroker({ host: '127.0.0.1', port: 0, ingest: stack.service, logger: log });
    port = (await broker.start()).port;
    stop = () => broker.close();
  } else {
    const clientId = `tl-bench-ingest-${process.pid}`;
    const client = new MqttClientIngest({ url, clientId, ingest: stack.service, logger: log });
    await client.start();
    stop = async () => {
      await client.close();
      // Leave no persistent session behind on a shared broker.
      const c = await mqtt.connectAsync(url, {
        clientId,
        clean: true,
        protocolVersion: 5,
        properties: { sessionExpiryInterval: 0 },
        reconnectPeriod: 0,
      });
      await c.endAsync();
    };
  }
  send({ type: 'ready', port });
  process.on('message', (m: { type: string }) => {
    if (m.type === 'mark') {
      const s = stack.service.stats.snapshot();
      send({
        type: 'stats',
        acceptedMessages: s.acceptedMessages,
        acceptedReadings: s.acceptedReadings,
        deadLetters: s.deadLetters,
        t: Date.now(),
      });
    } else if (m.type === 'count') {
      void (async () => {
        let rows = 0;
        for (const series of await stack.history.listSeries('default')) {
          const [b] = await stack.history.queryAggregate({
            workspace: 'default',
            twinId: series.twinId,
            path: series.path,
            from: 0,
            to: 8.64e15,
            interval: 8.64e15,
            fns: ['count'],
          });
          rows += b?.count ?? 0;
        }
        send({ type: 'rows', rows });
      })();
    } else if (m.type === 'stop') {
      void stop()
        .then(() => stack.close())
        .then(() => process.exit(0));
    }
  });
}
