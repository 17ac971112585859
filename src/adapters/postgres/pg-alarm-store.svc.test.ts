// The AlarmStore contract on PostgreSQL (a schema of its own per test), with the event outbox.
import { describeAlarmStoreContract } from '../../core/ports/alarm-store.contract.js';
import { PG_ALARM_MIGRATIONS, PgAlarmStore } from './pg-alarm-store.js';
import { PG_EVENT_OUTBOX_MIGRATIONS, PgEventOutbox } from './pg-event-outbox.js';
import { pgStoreFixture } from './pg-store-test-fixture.js';

describeAlarmStoreContract('postgres', async () => {
  const fx = await pgStoreFixture(
    [PG_EVENT_OUTBOX_MIGRATIONS, PG_ALARM_MIGRATIONS],
    (db) => new PgAlarmStore(db, new PgEventOutbox(db)),
  );
  return {
    store: fx.store,
    outbox: () => new PgEventOutbox(fx.db),
    reopen: () => fx.reopen(),
    cleanup: () => fx.cleanup(),
  };
});
