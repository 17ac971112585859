import { describeMlModelStoreContract } from '../../core/ports/ml-model-store.contract.js';
import { tempStorage } from './sqlite-test-fixture.js';

describeMlModelStoreContract('sqlite', async () => {
  const fx = tempStorage();
  return {
    store: fx.storage.mlModels,
    reopen: async () => (await fx.reopen()).mlModels,
    cleanup: () => fx.cleanup(),
  };
});
