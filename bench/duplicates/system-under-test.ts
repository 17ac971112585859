/**
 * The system under test for bench/duplicates, in its own process (so it can be killed with -9):
 * the real ingest stack (SQLite synchronous=FULL in the trial's data folder, TWINS pump twins) as
 * a client of an external broker with a fixed client id (the persistent session survives the kill).
 * argv: dataDir url clientId topicPrefix twins
 * Messages: → ready; 'count' → counts {rows, distinct, skipped}; 'stop' → graceful stop, exit.
 */
import { MqttClientIngest } from '../../src/adapters/mqtt/mqtt-client-ingest.js';
import { createIngestStack } from '../../src/adapters/mqtt/mqtt-test-fixture.js';

const [dataDir = '', url = '', clientId = '', prefix = '', twinsS = '100'] = process.argv.slice(2);
const send = (m: unknown) => process.send?.(m);
const stack = createIngestStack({ dataDir, twins: Number(twinsS), synchronous: 'FULL' });
const log = {
  info: () => undefined,
  warn: (m: string) => console.error(m),
  error: (m: string) => console.error(m),
};
const client = new MqttClientIngest({
  url,
  clientId,
  topics: [`${prefix}/twins/{twinId}/telemetry`],
  ingest: stack.service,
  logger: log,
});
await client.start();
send({ type: 'ready' });

/** Rows stored, and distinct (series, ts) among them: rows − distinct = readings stored twice. */
async function count(): Promise<{ rows: number; distinct: number }> {
  let rows = 0;
  let distinct = 0;
  for (const s of await stack.history.listSeries('default')) {
    const seen = new Set<number>();
    let cursor: string | undefined;
    do {
      const page = await stack.history.queryRaw({
        workspace: 'default',
        twinId: s.twinId,
        path: s.path,
        from: -8.64e15,
        to: 8.64e15,
        limit: 10_000,
        cursor,
      });
      rows += page.points.length;
      for (const p of page.points) seen.add(p.ts);
      cursor = page.cursor;
    } while (cursor);
    distinct += seen.size;
  }
  return { rows, distinct };
}

process.on('message', (m: { type: string }) => {
  if (m.type === 'count') {
    stack.history.flush();
    void count().then((c) => send({ type: 'counts', ...c, skipped: stack.history.duplicatesSkipped }));
  } else if (m.type === 'stop') {
    void client
      .close()
      .then(() => stack.close())
      .then(() => process.exit(0));
  }
});
