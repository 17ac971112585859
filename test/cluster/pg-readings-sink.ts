/**
 * Test support (not a test): a real IngestBatchSink on PostgreSQL for the cluster tests. Each
 * batch is inserted into `readings` and the partition's checkpoint moved in one transaction; the
 * checkpoint row is locked first and messages at or below it are skipped, which is what makes a
 * redelivery, or a late commit of a fenced-off owner, store nothing twice. `readings` has no unique
 * key on purpose: a double store would show up in the test's count, not as an error.
 */
import type { BusMessage, IngestBatchSink } from '../../src/core/ports/cluster.js';
import type { PgComponentMigrations, PgDatabase } from '../../src/adapters/postgres/pg-database.js';

export const PG_READINGS_SINK_MIGRATIONS: PgComponentMigrations = {
  component: 'test-readings-sink',
  migrations: [
    {
      version: 1,
      name: 'readings and checkpoints',
      sql: `
        CREATE TABLE readings (
          partition integer NOT NULL, seq bigint NOT NULL, msg_id text NOT NULL, twin_id text NOT NULL,
          topic text NOT NULL, client_id text NOT NULL, received_at bigint NOT NULL, payload bytea NOT NULL,
          owner text NOT NULL, committed_at timestamptz NOT NULL DEFAULT clock_timestamp());
        CREATE TABLE ingest_checkpoints (partition integer PRIMARY KEY, seq bigint NOT NULL);`,
    },
  ],
};

export class PgReadingsSink implements IngestBatchSink {
  constructor(
    private readonly db: PgDatabase,
    private readonly owner: string,
  ) {}

  async checkpoint(partition: number): Promise<number | undefined> {
    const r = await this.db.query<{ seq: number }>(
      'SELECT seq FROM ingest_checkpoints WHERE partition = $1',
      [partition],
    );
    return r.rows[0]?.seq;
  }

  async commit(partition: number, messages: readonly BusMessage[], lastSeq: number): Promise<void> {
    await this.db.transaction(async (c) => {
      await c.query('INSERT INTO ingest_checkpoints (partition, seq) VALUES ($1, 0) ON CONFLICT DO NOTHING', [
        partition,
      ]);
      const cp = await c.query<{ seq: number }>(
        'SELECT seq FROM ingest_checkpoints WHERE partition = $1 FOR UPDATE',
        [partition],
      );
      const at = cp.rows[0]?.seq ?? 0;
      const fresh = messages.filter((m) => m.seq > at);
      if (fresh.length)
        await c.query(
          `INSERT INTO readings (partition, seq, msg_id, twin_id, topic, client_id, received_at, payload, owner)
           SELECT $1, * , $8 FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[],
                                          $7::bigint[], $9::bytea[])
             AS u(seq, msg_id, twin_id, topic, client_id, received_at, payload)`,
          [
            partition,
            fresh.map((m) => m.seq),
            fresh.map((m) => m.id),
            fresh.map((m) => m.twinId),
            fresh.map((m) => m.topic),
            fresh.map((m) => m.clientId),
            fresh.map((m) => m.receivedAt),
            this.owner,
            fresh.map((m) => Buffer.from(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength)),
          ],
        );
      await c.query('UPDATE ingest_checkpoints SET seq = GREATEST(seq, $2) WHERE partition = $1', [
        partition,
        lastSeq,
      ]);
    });
  }
}
