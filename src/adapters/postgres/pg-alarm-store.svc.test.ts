// The AlarmStore contract on PostgreSQL (a schema of its own per test), with the event outbox; and a
// database migrated from before alarms had revisions.
import { describe, expect, it } from 'vitest';
import { acknowledgeAlarm, newAlarm, repeatAlarm } from '../../core/alarms/alarm.js';
import { describeAlarmStoreContract } from '../../core/ports/alarm-store.contract.js';
import { PG_ALARM_MIGRATIONS, PgAlarmStore } from './pg-alarm-store.js';
import { PG_EVENT_OUTBOX_MIGRATIONS, PgEventOutbox } from './pg-event-outbox.js';
import { pgStoreFixture } from './pg-store-test-fixture.js';
import { freshSchemaName, pgTestDatabase } from './pg-test-fixture.js';

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

describe('PgAlarmStore on a database from before revisions', () => {
  it('migrates its alarms to revision 1 and writes over them only at that revision', async () => {
    const schema = freshSchemaName();
    const v1 = { component: 'alarms', migrations: PG_ALARM_MIGRATIONS.migrations.slice(0, 1) };
    const old = await pgTestDatabase([v1], schema);
    const { revision: _none, ...body } = newAlarm('old-1', {
      workspace: 'default',
      twinId: 'pump-1',
      ruleId: 'vib',
      ruleVersion: 1,
      severity: 'major',
      message: 'high',
      time: 1000,
    });
    await old.query(
      `INSERT INTO alarms (workspace, id, twin_id, rule_id, severity, state, first_time, last_time, cleared_time, body)
       VALUES ('default', 'old-1', 'pump-1', 'vib', 'major', 'active', 1000, 1000, NULL, $1)`,
      [JSON.stringify(body)],
    );
    await old.close();
    const db = await pgTestDatabase([PG_ALARM_MIGRATIONS], schema);
    try {
      const store = new PgAlarmStore(db);
      const read = (await store.open('default', 'pump-1', 'vib'))!;
      expect(read).toEqual({ ...body, revision: 1 });
      const repeated = repeatAlarm(read, { ...body, time: 2000 });
      await store.write([{ alarm: repeated, expectedRevision: 1 }]);
      await expect(
        store.write([{ alarm: acknowledgeAlarm(read, 'ana', undefined, 3000), expectedRevision: 1 }]),
      ).rejects.toMatchObject({ code: 'Conflict', innerCode: 'AlarmChanged' });
      expect(await store.get('default', 'old-1')).toEqual({ ...repeated, revision: 2 });
    } finally {
      await db.drop();
    }
  });
});
