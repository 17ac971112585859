// The AlarmStore contract on SQLite (a fresh data folder per test).
import { describeAlarmStoreContract } from '../../core/ports/alarm-store.contract.js';
import { tempStorage } from './sqlite-test-fixture.js';

describeAlarmStoreContract('sqlite', async () => {
  const fx = tempStorage();
  await Promise.resolve();
  return {
    store: fx.storage.alarms,
    outbox: () => fx.storage.outbox,
    reopen: async () => (await fx.reopen()).alarms,
    cleanup: () => fx.cleanup(),
  };
});
