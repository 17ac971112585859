// The JobStore contract on PostgreSQL (a schema of its own per test).
import { describeJobStoreContract } from '../../core/ports/job-store.contract.js';
import { PG_JOB_MIGRATIONS, PgJobStore } from './pg-job-store.js';
import { pgStoreFixture } from './pg-store-test-fixture.js';

describeJobStoreContract('postgres', async () => {
  const fx = await pgStoreFixture([PG_JOB_MIGRATIONS], (db) => new PgJobStore(db));
  return { store: fx.store, reopen: () => fx.reopen(), cleanup: () => fx.cleanup() };
});
