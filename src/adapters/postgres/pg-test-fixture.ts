/**
 * A schema of its own for each PostgreSQL test (used by *.svc.test.ts only): created fresh, dropped
 * with everything in it at the end, so tests run side by side against the machine's server.
 * The server comes from PG_URL (default postgres://postgres@127.0.0.1:5432/test).
 */
import crypto from 'node:crypto';
import pg from 'pg';
import { openPgDatabase, type PgComponentMigrations, type PgDatabase } from './pg-database.js';

export function pgTestUrl(): string {
  return process.env.PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
}

/** A fresh, unique schema name (`tl_test_<hex>`). */
export function freshSchemaName(): string {
  return `tl_test_${crypto.randomBytes(6).toString('hex')}`;
}

/** Opens a database on a fresh schema; `drop()` closes it and drops the schema. */
export async function pgTestDatabase(
  migrations: readonly PgComponentMigrations[] = [],
  schema = freshSchemaName(),
): Promise<PgDatabase & { drop(): Promise<void> }> {
  const db = await openPgDatabase({ url: pgTestUrl(), schema, migrations, poolSize: 4 });
  return Object.assign(db, {
    async drop() {
      await db.close().catch(() => undefined);
      await dropSchema(schema);
    },
  });
}

/** Drops a test schema and everything in it (on a connection of its own). */
export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: pgTestUrl() });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  } finally {
    await client.end();
  }
}
