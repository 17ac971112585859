// The AlarmStore contract on PostgreSQL (a schema of its own per test).
import { describeAlarmStoreContract } from '../../core/ports/alarm-store.contract.js';
import { PG_ALARM_MIGRATIONS, PgAlarmStore } from './pg-alarm-store.js';
import { pgStoreFixture } from './pg-store-test-fixture.js';

describeAlarmStoreContract('postgres', async () => {
  const fx = await pgStoreFixture([PG_ALARM_MIGRATIONS], (db) => new PgAlarmStore(db));
  return { store: fx.store, reopen: () => fx.reopen(), cleanup: () => fx.cleanup() };
});
