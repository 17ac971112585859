/**
 * Test support (not a test): one ingest worker in its own process, for the cluster crash test.
 * argv: owner, PostgreSQL schema, NATS subject prefix, partition count. Prints one JSON line per log
 * entry and a status line every 500 ms on stdout; SIGTERM stops it cleanly (leases released).
 */
import { openJetStreamIngestBus } from '../../src/adapters/nats/jetstream-ingest-bus.js';
import { openPgDatabase } from '../../src/adapters/postgres/pg-database.js';
import { PgPartitionLeases } from '../../src/adapters/postgres/pg-partition-leases.js';
import { PartitionWorker } from '../../src/core/cluster/partition-worker.js';
import { PgReadingsSink } from './pg-readings-sink.js';

const [owner, schema, prefix, partitions] = process.argv.slice(2);
const out = (o: Record<string, unknown>) =>
  process.stdout.write(`${JSON.stringify({ t: Date.now(), ...o })}\n`);

const db = await openPgDatabase({
  url: process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test',
  schema,
  poolSize: 16,
});
const bus = await openJetStreamIngestBus({
  url: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
  subjectPrefix: prefix,
  partitions: Number(partitions),
});
const worker = new PartitionWorker({
  owner: owner!,
  bus,
  leases: new PgPartitionLeases(db),
  sink: new PgReadingsSink(db, owner!),
  batchSize: 500,
  log: (level, message, fields) => {
    if (level !== 'debug') out({ level, message, ...fields });
  },
});
worker.start();
out({ level: 'info', message: 'started' });
const timer = setInterval(() => out({ status: worker.status() }), 500);
process.once('SIGTERM', () => {
  clearInterval(timer);
  void (async () => {
    await worker.stop();
    await bus.close();
    await db.close();
    out({ level: 'info', message: 'stopped' });
    process.exit(0);
  })();
});
