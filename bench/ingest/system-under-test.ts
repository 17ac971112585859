/**
 * The system under test for bench/ingest and bench/cluster, in its own process: the real ingest
 * stack (SQLite with synchronous=FULL in a temp data folder, or PostgreSQL storage in the schema of
 * a postgres:// URL; 1,000 pump twins, the DTDL parser's model) behind the embedded aedes broker,
 * or the external-broker client. With mode 'plain' it is a bare aedes broker without ingestion (for
 * the transport's limit). argv: mode dataDir twins [mqttUrl] [store: sqlite (default) | postgres://…?schema=x]
 * Messages: → ready {port}; 'mark' → stats {acceptedMessages, acceptedReadings, deadLetters, cpuUs,
 * commits {n, points, ms}};
 * 'count' → rows {rows} (points stored, counted from the store); 'stop'.
 */
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { AedesBroker } from '../../src/adapters/mqtt/aedes-broker.js';
import { MqttClientIngest } from '../../src/adapters/mqtt/mqtt-client-ingest.js';
import { createIngestStack, createIngestStackOn } from '../../src/adapters/mqtt/mqtt-test-fixture.js';
import type { IngestStackOn } from '../../src/adapters/mqtt/mqtt-test-fixture.js';
import { openPgStorage } from '../../src/adapters/postgres/pg-storage.js';

const [mode = 'embedded', dataDir = '', twinsS = '1000', url = 'mqtt://127.0.0.1:1883', store = 'sqlite'] =
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
  /** History group commits so far: how many, their points, their time. */
  const commits = { n: 0, points: 0, ms: 0 };
  const onCommit = (i: { ms: number; items: number; failed: boolean }): void => {
    if (i.failed) return;
    commits.n++;
    commits.points += i.items;
    commits.ms += i.ms;
  };
  let stack: IngestStackOn;
  /** Readings stored: SQLite through the port (counts per series); PostgreSQL counted in SQL. */
  let countRows: () => Promise<number>;
  if (store === 'sqlite') {
    stack = createIngestStack({ dataDir, twins, synchronous: 'FULL', history: { onCommit } });
    countRows = () => countThroughPort(stack);
  } else {
    // The application name lets the benchmark find this process's backends (their CPU).
    const storage = await openPgStorage({
      url: store,
      applicationName: 'tl-bench-sut',
      history: { onCommit },
    });
    stack = createIngestStackOn(storage, { twins });
    countRows = async () =>
      (await storage.db.query<{ n: number }>('SELECT count(*)::float8 AS n FROM history_points')).rows[0]!.n;
  }
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
        cpuUs: cpuUs(),
        commits: { ...commits },
        t: Date.now(),
      });
    } else if (m.type === 'count') {
      void countRows().then((rows) => send({ type: 'rows', rows }));
    } else if (m.type === 'stop') {
      void stop()
        .then(() => stack.close())
        .then(() => process.exit(0));
    }
  });
}

async function countThroughPort(stack: IngestStackOn): Promise<number> {
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
  return rows;
}

function cpuUs(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}
