// The AlarmStore contract on SQLite (a fresh data folder per test), and data folders written before
// alarms had revisions.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { acknowledgeAlarm, newAlarm, repeatAlarm } from '../../core/alarms/alarm.js';
import { describeAlarmStoreContract } from '../../core/ports/alarm-store.contract.js';
import { openSqliteDatabase } from './sqlite-database.js';
import { MIGRATIONS } from './sqlite-migrations.js';
import { openSqliteStorage } from './sqlite-storage.js';
import { tempDir, tempStorage } from './sqlite-test-fixture.js';

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

describe('SqliteAlarmStore on a data folder from before revisions', () => {
  it('reads its alarms as revision 1 and writes over them only at that revision', async () => {
    const dataDir = tempDir();
    const before = MIGRATIONS.findIndex((m) => m.name.startsWith('alarms: a revision'));
    expect(before).toBeGreaterThan(0);
    const old = openSqliteDatabase({ dataDir, targetVersion: before });
    const { revision: _none, ...body } = newAlarm('old-1', {
      workspace: 'default',
      twinId: 'pump-1',
      ruleId: 'vib',
      ruleVersion: 1,
      severity: 'major',
      message: 'high',
      time: 1000,
    });
    old.db
      .prepare(
        `INSERT INTO alarms (workspace, id, twin_id, rule_id, severity, state, first_time, last_time, cleared_time, body)
         VALUES ('default', 'old-1', 'pump-1', 'vib', 'major', 'active', 1000, 1000, NULL, ?)`,
      )
      .run(JSON.stringify(body));
    old.close();
    const storage = openSqliteStorage({ dataDir, synchronous: 'NORMAL' });
    try {
      const read = (await storage.alarms.open('default', 'pump-1', 'vib'))!;
      expect(read).toEqual({ ...body, revision: 1 });
      const repeated = repeatAlarm(read, { ...body, time: 2000 });
      await storage.alarms.write([{ alarm: repeated, expectedRevision: 1 }]);
      await expect(
        storage.alarms.write([
          { alarm: acknowledgeAlarm(read, 'ana', undefined, 3000), expectedRevision: 1 },
        ]),
      ).rejects.toMatchObject({ code: 'Conflict', innerCode: 'AlarmChanged' });
      expect(await storage.alarms.get('default', 'old-1')).toEqual({ ...repeated, revision: 2 });
    } finally {
      await storage.close();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
