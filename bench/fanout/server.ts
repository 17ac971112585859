/**
 * The system under test for bench/fanout, in its own process: the real ingest stack (SQLite
 * synchronous=FULL, 1,000 pump twins) behind the embedded aedes broker, with the live stream
 * (LiveHub + the WebSocket plugin on a real Fastify server) fed by the same LiveEventBus, as in the
 * platform. argv: dataDir twins
 * Messages: → ready {port, httpPort}; 'mark' → stats {acceptedMessages, acceptedReadings, t, live, cpuMs, threads};
 * 'count' → rows {rows}; 'stop'.
 */
import Fastify from 'fastify';
import { AedesBroker } from '../../src/adapters/mqtt/aedes-broker.js';
import { createIngestStack, pumpModels } from '../../src/adapters/mqtt/mqtt-test-fixture.js';
import { LiveHub } from '../../src/core/live/live-hub.js';
import { liveWsPlugin } from '../../src/adapters/http/live/live-ws-plugin.js';
import { threadCpuMs } from '../thread-cpu.js';

const [dataDir = '', twinsS = '1000'] = process.argv.slice(2);
const send = (m: unknown) => process.send?.(m);
const stack = createIngestStack({ dataDir, twins: Number(twinsS), synchronous: 'FULL' });
const models = pumpModels();
const log = {
  info: () => undefined,
  warn: (m: string) => console.error(m),
  error: (m: string) => console.error(m),
};
const broker = new AedesBroker({ host: '127.0.0.1', port: 0, ingest: stack.service, logger: log });
const { port } = await broker.start();
const hub = new LiveHub({ bus: stack.live, isOfModel: (_w, m, b) => models.isOfModel(m, b) });
const app = Fastify();
await app.register(liveWsPlugin({ hub }));
await app.listen({ host: '127.0.0.1', port: 0 });
const httpPort = (app.server.address() as { port: number }).port;
send({ type: 'ready', port, httpPort });

process.on('message', (m: { type: string }) => {
  if (m.type === 'mark') {
    const s = stack.service.stats.snapshot();
    send({
      type: 'stats',
      acceptedMessages: s.acceptedMessages,
      acceptedReadings: s.acceptedReadings,
      t: Date.now(),
      live: hub.stats(),
      rss: process.memoryUsage().rss,
      cpuMs: (process.cpuUsage().user + process.cpuUsage().system) / 1000,
      threads: threadCpuMs(),
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
    hub.close();
    void app
      .close()
      .then(() => broker.close())
      .then(() => stack.close())
      .then(() => process.exit(0));
  }
});
