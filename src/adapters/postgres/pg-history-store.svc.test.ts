import { describeHistoryStoreContract } from '../../core/ports/history-store.contract.js';
import { pgTestDatabase } from './pg-test-fixture.js';
import { PG_HISTORY_MIGRATIONS, PgHistoryStore } from './pg-history-store.js';

describeHistoryStoreContract('postgresql', async () => {
  let db = await pgTestDatabase([PG_HISTORY_MIGRATIONS]);
  const schema = db.schema;
  const fx = {
    store: await PgHistoryStore.open(db),
    async reopen() {
      await fx.store.close();
      await db.close();
      db = await pgTestDatabase([PG_HISTORY_MIGRATIONS], schema);
      fx.store = await PgHistoryStore.open(db);
      return fx.store;
    },
    async cleanup() {
      await fx.store.close();
      await db.drop();
    },
    async failCommits() {
      await db.query(`CREATE FUNCTION fail_cp() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN RAISE EXCEPTION 'disk says no'; END $$`);
      await db.query(
        'CREATE TRIGGER fail_cp BEFORE INSERT OR UPDATE ON history_rollups FOR EACH ROW EXECUTE FUNCTION fail_cp()',
      );
      return async () => {
        await db.query('DROP TRIGGER fail_cp ON history_rollups');
        await db.query('DROP FUNCTION fail_cp()');
      };
    },
  };
  return fx;
});
