// The DeviceCredentialStore contract on PostgreSQL, and what only PostgreSQL can get wrong.
import { describe, expect, it } from 'vitest';
import { describeDeviceCredentialStoreContract } from '../../core/ports/device-credential-store.contract.js';
import { PG_DEVICE_CREDENTIAL_MIGRATIONS, PgDeviceCredentialStore } from './pg-device-credential-store.js';
import { pgStoreFixture } from './pg-store-test-fixture.js';

const open = () => pgStoreFixture([PG_DEVICE_CREDENTIAL_MIGRATIONS], (db) => new PgDeviceCredentialStore(db));

describeDeviceCredentialStoreContract('postgres', async () => {
  const fx = await open();
  return {
    store: fx.store,
    reopen: () => fx.reopen(),
    dump: async () =>
      JSON.stringify(
        (
          await fx.db.query(
            "SELECT id, workspace, twin_id, label, created_at, encode(digest, 'hex') AS d FROM device_credentials",
          )
        ).rows,
      ),
    cleanup: () => fx.cleanup(),
  };
});

describe('PgDeviceCredentialStore', () => {
  it('refuses a NUL in a twin id or label with BadRequest and stores nothing', async () => {
    const fx = await open();
    try {
      await expect(fx.store.create({ workspace: 'w', twinId: 'a\u0000b' })).rejects.toMatchObject({
        code: 'BadRequest',
        message: expect.stringMatching(/twinId contains a NUL/) as unknown,
      });
      await expect(fx.store.create({ workspace: 'w', twinId: 't', label: '\u0000' })).rejects.toMatchObject({
        code: 'BadRequest',
      });
      expect(await fx.store.list('w')).toEqual([]);
      expect(await fx.store.list('w\u0000')).toEqual([]);
      expect(await fx.store.revokeTwin('w', 'a\u0000b')).toBe(0);
      expect(await fx.store.revoke('w', 'dc_\u0000')).toBe(false);
    } finally {
      await fx.cleanup();
    }
  });

  it('keeps only the 32-byte digest, the secret nowhere in the row', async () => {
    const fx = await open();
    try {
      const { token } = await fx.store.create({ workspace: 'w', twinId: 't' });
      const secret = token.split('_').slice(3).join('_');
      const rows = await fx.db.query<{ n: number }>(
        'SELECT octet_length(digest) AS n FROM device_credentials',
      );
      expect(rows.rows).toEqual([{ n: 32 }]);
      const all = await fx.db.query<{ digest: Buffer }>('SELECT * FROM device_credentials');
      expect(JSON.stringify(all.rows)).not.toContain(secret);
      expect(
        JSON.stringify(all.rows.map((r: { digest: Buffer }) => r.digest.toString('base64url'))),
      ).not.toContain(secret);
    } finally {
      await fx.cleanup();
    }
  });
});
