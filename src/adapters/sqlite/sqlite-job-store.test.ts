import { describeJobStoreContract } from '../../core/ports/job-store.contract.js';
import { tempStorage } from './sqlite-test-fixture.js';

describeJobStoreContract('sqlite', async () => {
  const fx = tempStorage();
  await Promise.resolve();
  return {
    store: fx.storage.jobs,
    reopen: async () => (await fx.reopen()).jobs,
    cleanup: () => fx.cleanup(),
  };
});
