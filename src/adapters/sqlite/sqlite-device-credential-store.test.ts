import { describeDeviceCredentialStoreContract } from '../../core/ports/device-credential-store.contract.js';
import { tempStorage } from './sqlite-test-fixture.js';

describeDeviceCredentialStoreContract('sqlite', async () => {
  const fx = tempStorage();
  return {
    store: fx.storage.credentials,
    reopen: async () => (await fx.reopen()).credentials,
    dump: async () =>
      JSON.stringify(
        fx.storage.db
          .prepare(
            'SELECT id, workspace, twin_id, label, created_at, hex(digest) AS d FROM device_credentials',
          )
          .all(),
      ),
    cleanup: () => fx.cleanup(),
  };
});
