import { describeRuleStoreContract } from '../../core/ports/rule-store.contract.js';
import { tempStorage } from './sqlite-test-fixture.js';

describeRuleStoreContract('sqlite', async () => {
  const fx = tempStorage();
  return {
    store: fx.storage.rules,
    reopen: async () => (await fx.reopen()).rules,
    cleanup: () => fx.cleanup(),
  };
});
