/**
 * A store on a fresh PostgreSQL schema for the contract suites (used by *.svc.test.ts only):
 * `reopen()` closes the connection and opens a new one on the same schema (what a restart does),
 * `cleanup()` drops the schema.
 */
import type { PgComponentMigrations, PgDatabase } from './pg-database.js';
import { freshSchemaName, pgTestDatabase } from './pg-test-fixture.js';

export interface PgStoreFixture<S> {
  store: S;
  db: PgDatabase;
  reopen(): Promise<S>;
  cleanup(): Promise<void>;
}

export async function pgStoreFixture<S>(
  migrations: readonly PgComponentMigrations[],
  make: (db: PgDatabase) => S,
): Promise<PgStoreFixture<S>> {
  const schema = freshSchemaName();
  let db = await pgTestDatabase(migrations, schema);
  const fx: PgStoreFixture<S> = {
    store: make(db),
    db,
    async reopen() {
      await db.close().catch(() => undefined); // a test may have closed it already
      db = await pgTestDatabase(migrations, schema);
      fx.db = db;
      fx.store = make(db);
      return fx.store;
    },
    async cleanup() {
      await db.drop();
    },
  };
  return fx;
}
